from django.utils import translation

from orders.text import quoted_list


def test_step_names_are_listed_the_english_way():
    with translation.override("en"):
        assert quoted_list(["Items picked", "Packed and sealed"]) == "“Items picked”, “Packed and sealed”"


def test_step_names_are_listed_the_chinese_way():
    with translation.override("zh-hant"):
        assert quoted_list(["揀貨完成", "包裝完成"]) == "「揀貨完成」、「包裝完成」"


def test_a_refused_advance_names_the_missing_steps_in_chinese(db):
    from orders.exceptions import ChecklistIncomplete
    from orders.services import order_advance
    from tests.factories import OrderFactory

    order = OrderFactory(processing=True)
    with translation.override("zh-hant"):
        try:
            order_advance(order=order, actor=None)
        except ChecklistIncomplete as refusal:
            message = str(refusal)
    assert "「揀貨完成」、" in message
