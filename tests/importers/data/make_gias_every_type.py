"""Writes tests/importers/data/gias-every-type.csv: GIAS's real header, every establishment type and status (made-up rows).

Run from the project root: .venv/bin/python tests/importers/data/make_gias_every_type.py (tests/importers/test_gias_rules.py reads it).
"""

import csv
import io

from tsm.demo import GIAS_HEADER

GROUPS = {
    "Colleges": "1",
    "Universities": "2",
    "Independent schools": "3",
    "Local authority maintained schools": "4",
    "Special schools": "5",
    "Welsh schools": "6",
    "Other types": "9",
    "Academies": "10",
    "Free Schools": "11",
    "Online provider": "13",
}
PHASES = {
    "Not applicable": "0",
    "Nursery": "1",
    "Primary": "2",
    "Middle deemed primary": "3",
    "Secondary": "4",
    "Middle deemed secondary": "5",
    "16 plus": "6",
    "All-through": "7",
}
STATUSES = {"Open": "1", "Closed": "2", "Open, but proposed to close": "3", "Proposed to open": "4"}
# (type code, type name, group, phase of education, name)
TYPES = [
    (
        "01",
        "Community school",
        "Local authority maintained schools",
        "Primary",
        "Alder Community Primary School",
    ),
    (
        "02",
        "Voluntary aided school",
        "Local authority maintained schools",
        "Primary",
        "St Bede's VA Primary School",
    ),
    (
        "03",
        "Voluntary controlled school",
        "Local authority maintained schools",
        "Primary",
        "Church Lane VC Primary",
    ),
    ("05", "Foundation school", "Local authority maintained schools", "Secondary", "Foundation High School"),
    ("06", "City technology college", "Independent schools", "Secondary", "Made Up City Technology College"),
    (
        "07",
        "Community special school",
        "Special schools",
        "Not applicable",
        "Willow Community Special School",
    ),
    (
        "08",
        "Non-maintained special school",
        "Special schools",
        "Not applicable",
        "Heath Non-Maintained Special School",
    ),
    (
        "10",
        "Other independent special school",
        "Special schools",
        "Not applicable",
        "Oakfield Independent Special School",
    ),
    (
        "11",
        "Other independent school",
        "Independent schools",
        "Not applicable",
        "Beech House Independent School",
    ),
    ("12", "Foundation special school", "Special schools", "Not applicable", "Foundation Special School"),
    (
        "14",
        "Pupil referral unit",
        "Local authority maintained schools",
        "Not applicable",
        "Short Stay School",
    ),
    (
        "15",
        "LA nursery school",
        "Local authority maintained schools",
        "Nursery",
        "Little Acorns Nursery School",
    ),
    ("18", "Further education", "Colleges", "16 plus", "Made Up College of Further Education"),
    ("24", "Secure units", "Other types", "Not applicable", "Made Up Secure Children's Home"),
    ("25", "Offshore schools", "Other types", "Not applicable", "Made Up Offshore School"),
    (
        "26",
        "Service children's education",
        "Other types",
        "Not applicable",
        "Made Up Service Children's School",
    ),
    ("27", "Miscellaneous", "Other types", "Not applicable", "Made Up Miscellaneous Establishment"),
    ("28", "Academy sponsor led", "Academies", "Primary", "Sponsor Led Primary Academy"),
    ("29", "Higher education institutions", "Universities", "Not applicable", "Made Up University"),
    ("30", "Welsh establishment", "Welsh schools", "Not applicable", "Ysgol Made Up"),
    ("31", "Sixth form centres", "Colleges", "16 plus", "Made Up Sixth Form Centre"),
    ("32", "Special post 16 institution", "Colleges", "16 plus", "Made Up Special Post-16 Institution"),
    ("33", "Academy special sponsor led", "Academies", "Not applicable", "Sponsor Led Special Academy"),
    ("34", "Academy converter", "Academies", "Secondary", "Converter High Academy"),
    ("35", "Free schools", "Free Schools", "All-through", "All Through Free School"),
    ("36", "Free schools special", "Free Schools", "Not applicable", "Special Free School"),
    ("37", "British schools overseas", "Other types", "Not applicable", "Made Up British School Overseas"),
    ("38", "Free schools alternative provision", "Free Schools", "Not applicable", "AP Free School"),
    ("39", "Free schools 16 to 19", "Free Schools", "16 plus", "Made Up 16-19 Free School"),
    (
        "40",
        "University technical college",
        "Free Schools",
        "Secondary",
        "Made Up University Technical College",
    ),
    ("41", "Studio schools", "Free Schools", "Secondary", "Made Up Studio School"),
    ("42", "Academy alternative provision converter", "Academies", "Not applicable", "AP Converter Academy"),
    (
        "43",
        "Academy alternative provision sponsor led",
        "Academies",
        "Not applicable",
        "AP Sponsor Led Academy",
    ),
    ("44", "Academy special converter", "Academies", "Not applicable", "Special Converter Academy"),
    ("45", "Academy 16-19 converter", "Academies", "16 plus", "Made Up 16-19 Converter Academy"),
    ("46", "Academy 16 to 19 sponsor led", "Academies", "16 plus", "Made Up 16-19 Sponsor Led Academy"),
    ("47", "Children's centre", "Other types", "Not applicable", "Made Up Children's Centre"),
    (
        "48",
        "Children's centre linked site",
        "Other types",
        "Not applicable",
        "Made Up Children's Centre Linked Site",
    ),
    ("49", "Online provider", "Online provider", "Not applicable", "Made Up Online School"),
    (
        "56",
        "Institution funded by other government department",
        "Other types",
        "Not applicable",
        "Made Up Institution Funded by Another Department",
    ),
    ("57", "Academy secure 16 to 19", "Academies", "16 plus", "Made Up Secure 16-19 Academy"),
]
EXTRA = [  # middle schools, and the other statuses on a community school
    (
        "01",
        "Community school",
        "Local authority maintained schools",
        "Middle deemed primary",
        "Middle Deemed Primary School",
        "Open",
    ),
    (
        "34",
        "Academy converter",
        "Academies",
        "Middle deemed secondary",
        "Middle Deemed Secondary Academy",
        "Open",
    ),
    (
        "01",
        "Community school",
        "Local authority maintained schools",
        "Primary",
        "Closing Community Primary School",
        "Closed",
    ),
    (
        "01",
        "Community school",
        "Local authority maintained schools",
        "Primary",
        "Proposed To Close Primary School",
        "Open, but proposed to close",
    ),
    ("28", "Academy sponsor led", "Academies", "Secondary", "Proposed New Academy", "Proposed to open"),
]

rows = []


def add(urn, la_code, la_name, t, status):
    code, tname, group, phase, name = t
    row = dict.fromkeys(GIAS_HEADER, "")
    row.update(
        {
            "URN": str(urn),
            "LA (code)": la_code,
            "LA (name)": la_name,
            "EstablishmentNumber": str(urn % 10000),
            "EstablishmentName": name,
            "TypeOfEstablishment (code)": code,
            "TypeOfEstablishment (name)": tname,
            "EstablishmentTypeGroup (code)": GROUPS[group],
            "EstablishmentTypeGroup (name)": group,
            "EstablishmentStatus (code)": STATUSES[status],
            "EstablishmentStatus (name)": status,
            "PhaseOfEducation (code)": PHASES[phase],
            "PhaseOfEducation (name)": phase,
            "TrustSchoolFlag (code)": "0",
            "TrustSchoolFlag (name)": "Not applicable",
            "Street": f"{urn % 97} Made Up Road",
            "Town": "Notown" if la_code == "926" else "Kentown",
            "Postcode": "ZZ9 9ZZ",
            "NumberOfPupils": str(40 + urn % 900),
            "HeadTitle (name)": "Dr",
            "HeadFirstName": "Zebedee",
            "HeadLastName": "Quimbleworth",
            "HeadPreferredJobTitle": "Headteacher",
            "Country (name)": "United Kingdom",
        }
    )
    rows.append(row)


for la_code, la_name, base in (("926", "Norfolk", 960000), ("886", "Kent", 860000)):
    for i, t in enumerate(TYPES):
        add(base + i + 1, la_code, la_name, t, "Open")
    for i, (*t, status) in enumerate(EXTRA):
        add(base + 100 + i, la_code, la_name, tuple(t), status)

buf = io.StringIO()
w = csv.DictWriter(buf, fieldnames=GIAS_HEADER, lineterminator="\r\n")
w.writeheader()
w.writerows(rows)
if __name__ == "__main__":
    with open("tests/importers/data/gias-every-type.csv", "wb") as f:
        f.write(buf.getvalue().encode("cp1252"))
    print(len(rows), "rows")
