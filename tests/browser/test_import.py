"""CSV import in headless Chromium: upload, map, watch the worker finish, read the row error,
then import the valid rows and see them on the contact list (live, and after a reload)."""

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.django_db(transaction=True)

CSV = "phone,first_name,last_name\n07911 123451,Ann,Lee\n12,Bob,Ray\n07911 123453,Cy,Kim\n"


def upload_and_start(page, path, *, skip: bool) -> None:
    page.get_by_label("CSV file").set_input_files(str(path))
    if skip:
        page.get_by_label("Skip invalid rows and import the rest").check()
    page.get_by_role("button", name="Upload and map columns").click()
    expect(page.get_by_role("heading", name="2. Map the columns of people.csv")).to_be_visible()
    # the guessed mapping, confirmed as it is
    expect(page.get_by_label("phone", exact=True)).to_have_value("phone")
    expect(page.get_by_label("first_name", exact=True)).to_have_value("first_name")
    page.get_by_role("button", name="Start import").click()


def test_one_bad_row_is_reported_then_the_valid_rows_import(server, login, marketer, context, tmp_path):
    path = tmp_path / "people.csv"
    path.write_text(CSV)

    # given the marketer uploads a file whose line 3 has a bad phone number
    page = login(marketer, "/contacts/imports/new/")
    upload_and_start(page, path, skip=False)

    # then the worker checks it, the progress stops, and that row's error is shown
    progress = page.locator("#import-progress")
    expect(progress.get_by_text("Failed", exact=True)).to_be_visible(timeout=20_000)
    expect(progress).to_contain_text("nothing was imported")
    errors = page.locator("#import-errors tbody tr")
    expect(errors).to_have_count(1)
    cells = errors.first.locator("td")
    expect(cells.nth(0)).to_have_text("3")
    expect(cells.nth(1)).to_have_text("phone")
    expect(cells.nth(2)).to_have_text("12")
    expect(cells.nth(3)).to_have_text("'12' is not a valid phone number (too short).")

    # given the contact list is open in another tab
    contacts = context.new_page()
    contacts.goto(server.url + "/contacts/")
    expect(contacts.locator("html[data-live=connected]")).to_have_count(1)

    # when the same file is imported with "skip invalid rows"
    page.goto(server.url + "/contacts/imports/new/")
    upload_and_start(page, path, skip=True)

    # then the good rows are written and the bad one is listed as skipped
    progress = page.locator("#import-progress")
    expect(progress.get_by_text("Completed", exact=True)).to_be_visible(timeout=20_000)
    expect(progress).to_contain_text("Done: 2 created, 0 updated, 1 invalid row skipped.")
    expect(page.locator("#import-errors tbody tr")).to_have_count(1)

    # and the open list shows them live, with a banner
    expect(contacts.locator("#live-banner")).to_contain_text("2 contacts imported", timeout=10_000)
    expect(contacts.get_by_role("link", name="Ann Lee")).to_be_visible()

    # and after following the link they are on the contact list, without the bad row
    page.get_by_role("link", name="See the contacts").click()
    expect(page.get_by_role("link", name="Ann Lee")).to_be_visible()
    expect(page.get_by_role("link", name="Cy Kim")).to_be_visible()
    expect(page.get_by_text("Bob")).to_have_count(0)
    server.assert_alive()
