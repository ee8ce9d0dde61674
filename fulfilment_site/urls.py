from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _
from django.views.generic import RedirectView

admin.site.site_header = admin.site.site_title = _("Fulfilment back-office")
admin.site.index_title = _("Order processing")
admin.site.site_url = None  # there is no public site: the admin is the product

urlpatterns = [
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
]

# Inside the admin's layout, in the user's language (common/views.py).
handler403 = "common.views.permission_denied"
handler404 = "common.views.page_not_found"
