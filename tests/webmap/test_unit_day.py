"""The unit's day (layers.unit_day): a report assigned to a person and found under "my reports";
response templates inserted into a public note and edited before sending."""
from urllib.parse import quote

from tests.helpers import scalar
from tests.webmap.test_reports_http import add_staff, form_token, lamp_report, log_in, staff_post


def test_a_report_assigned_to_a_colleague_is_in_their_reports_only(client, demo_db):
    code = lamp_report(client, demo_db).get_json()["code"]
    add_staff(demo_db, "olena@example.org", "kp_blagoustrij")
    add_staff(demo_db, "petro@example.org", "kp_blagoustrij")
    add_staff(demo_db, "housing@example.org", "housing")
    petro = scalar(demo_db, "SELECT id FROM app_user WHERE email = 'petro@example.org'")
    housing = scalar(demo_db, "SELECT id FROM app_user WHERE email = 'housing@example.org'")
    log_in(client, "olena@example.org")
    page = client.get(f"/staff/reports/{quote(code)}").get_data(as_text=True)
    assert "petro@example.org" in page and "housing@example.org" not in page  # the unit's people only
    assert staff_post(client, code, "assign", user_id=str(housing)).status_code == 400
    assert staff_post(client, code, "assign", user_id=str(petro)).status_code == 302
    assert scalar(demo_db, "SELECT assigned_user_id FROM report WHERE code = :c", c=code) == petro
    assert code not in client.get("/staff/?mine=1").get_data(as_text=True)  # not Olena's
    assert "petro@example.org" in client.get("/staff/").get_data(as_text=True)  # the queue says who
    client.post("/staff/logout", data={"csrf_token": form_token(client.get("/staff/").get_data(as_text=True))})
    log_in(client, "petro@example.org")
    assert code in client.get("/staff/?mine=1").get_data(as_text=True)
    # The assignment is in the staff history, not on the public page.
    assert "призначено" in client.get(f"/staff/reports/{quote(code)}").get_data(as_text=True)
    assert "призначено" not in client.get(f"/reports/{quote(code)}").get_data(as_text=True)


def test_a_template_is_inserted_into_the_public_note_and_edited_before_sending(client, demo_db):
    code = lamp_report(client, demo_db).get_json()["code"]
    add_staff(demo_db, "admin@example.org", roles=("admin",))
    log_in(client, "admin@example.org")
    token = form_token(client.get("/staff/templates").get_data(as_text=True))
    saved = client.post("/staff/templates", data={"csrf_token": token, "title": "Лампу замінено",
                                                  "body": "Лампу замінено. Дякуємо, що повідомили!",
                                                  "category": "street_light_out"})
    assert saved.status_code == 302
    client.post("/staff/templates", data={"csrf_token": token, "title": "Ями", "body": "Яму залатано.",
                                          "category": "pothole"})
    template_id = scalar(demo_db, "SELECT id FROM response_template WHERE title = 'Лампу замінено'")
    page = client.get(f"/staff/reports/{quote(code)}").get_data(as_text=True)
    assert "Лампу замінено" in page and "Ями" not in page  # this category's and any category's only
    filled = client.get(f"/staff/reports/{quote(code)}?template={template_id}").get_data(as_text=True)
    assert ">Лампу замінено. Дякуємо, що повідомили!</textarea>" in filled
    # Edited before sending: what is sent is what the person wrote.
    assert staff_post(client, code, "note", public_note="Лампу замінено сьогодні. Дякуємо!",
                      private_note="").status_code == 302
    assert "Лампу замінено сьогодні" in client.get(f"/reports/{quote(code)}").get_data(as_text=True)
    bad = client.post("/staff/templates", data={"csrf_token": token, "title": "", "body": ""})
    assert bad.status_code == 400
    client.post("/staff/templates", data={"csrf_token": token, "delete": str(template_id)})
    assert scalar(demo_db, "SELECT count(*) FROM response_template") == 1
