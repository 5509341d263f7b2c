from __future__ import annotations

from tests.helpers import form_values

ORG = dict(name="Sawt Association", country="LB", website="https://www.sawt.org.lb/",
           contact_name="Rania Saleh", contact_email="rania@sawt.org.lb",
           statement="We stand with the signers of this letter.")


def sign_org(client, slug: str = "secure-our-socials", lang: str = "en", **fields):
    page = client.get(f"/{lang}/letters/{slug}/organisations/sign")
    assert page.status_code == 200, page.status_code
    data = form_values(page.text)
    data.update(ORG)
    data.update(fields)
    return client.post(f"/{lang}/letters/{slug}/organisations/sign", data=data)
