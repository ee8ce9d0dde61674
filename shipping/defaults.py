"""The carriers a fresh install starts with (loaded by migration 0006; managers edit
them afterwards on the carrier page): Taiwan's home couriers, the convenience-store
chains' pickup services and the express carriers abroad.

Each with its tracking-number pattern (RE2, the whole number must match; staff read
it in words, shipping/tracking.py describe_pattern), its tracking link and the
delivery methods it serves."""

# code, name, tracking number pattern, tracking URL template, serves (home, store pickup, express), store chain
DEFAULT_CARRIERS = [
    (
        "TCAT",
        "黑貓宅急便 T-Cat",
        r"\d{12}",
        "https://www.t-cat.com.tw/Inquire/TraceDetail.aspx?BillID={tracking_number}",
        (True, False, False),
        "",
    ),
    (
        "HCT",
        "新竹物流 HCT",
        r"\d{10}",
        "https://www.hct.com.tw/Search/SearchGoods_n.aspx?no={tracking_number}",
        (True, False, False),
        "",
    ),
    (
        "POST",
        "中華郵政 Chunghwa Post",
        # A domestic parcel's 14 digits, or an international (EMS) number such as EE123456789TW.
        r"\d{14}|[A-Z]{2}\d{9}TW",
        "https://postserv.post.gov.tw/pstmail/main_mail.html?MAILNO={tracking_number}",
        (True, False, True),
        "",
    ),
    (
        "SEVEN",
        "7-ELEVEN 交貨便",
        r"[A-Z]\d{11}",
        "https://eservice.7-11.com.tw/e-tracking/search.aspx?no={tracking_number}",
        (False, True, False),
        "7-eleven",
    ),
    (
        "FAMILY",
        "全家店到店 FamilyMart",
        r"\d{11}",
        "https://www.famiport.com.tw/Web_Famiport/page/process.aspx?no={tracking_number}",
        (False, True, False),
        "familymart",
    ),
    (
        "HILIFE",
        "萊爾富 Hi-Life",
        r"\d{13}",
        "https://www.hilife.com.tw/serviceInfo_search.aspx?no={tracking_number}",
        (False, True, False),
        "hilife",
    ),
    (
        "OKMART",
        "OK超商 OK mart",
        r"\d{11}",
        "https://ecservice.okmart.com.tw/Tracking/Search?no={tracking_number}",
        (False, True, False),
        "okmart",
    ),
    (
        "DHL",
        "DHL Express",
        r"\d{10}",
        "https://www.dhl.com/tw-en/home/tracking/tracking-express.html?tracking-id={tracking_number}",
        (False, False, True),
        "",
    ),
    (
        "FEDEX",
        "FedEx",
        r"\d{12}|\d{15}",
        "https://www.fedex.com/fedextrack/?trknbr={tracking_number}",
        (False, False, True),
        "",
    ),
    (
        "UPS",
        "UPS",
        r"1Z[A-Z0-9]{16}",
        "https://www.ups.com/track?tracknum={tracking_number}",
        (False, False, True),
        "",
    ),
]


def _served(serves, chain):
    home, store_pickup, express = serves
    return {"serves_home": home, "serves_store_pickup": store_pickup, "serves_express": express, "store_chain": chain}


def carriers_load(carrier_model):
    """Create each default carrier whose code is absent, and never change one that
    exists (a manager's edits stay, however often this runs). A carrier that exists
    but serves no delivery method at all (one created before carriers had methods,
    e.g. by an older seed_demo) gets the default methods of its code, and nothing
    else. `carrier_model` is the model (a migration's historical one, or the real one).
    Returns the codes created."""
    created = []
    for code, name, pattern, url, serves, chain in DEFAULT_CARRIERS:
        carrier = carrier_model.objects.filter(code=code).first()
        if carrier is None:
            carrier_model.objects.create(
                code=code,
                name=name,
                tracking_number_pattern=pattern,
                tracking_url_template=url,
                is_active=True,
                **_served(serves, chain),
            )
            created.append(code)
        elif not (carrier.serves_home or carrier.serves_store_pickup or carrier.serves_express or carrier.store_chain):
            for field, value in _served(serves, chain).items():
                setattr(carrier, field, value)
            carrier.save(update_fields=list(_served(serves, chain)))
    return created
