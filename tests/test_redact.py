"""Tests for bot.redact: a table of (message, expected redaction) plus property-style checks.

All data is synthetic: phone numbers are Ofcom drama numbers (07700 900xxx, 0113 496 0xxx,
020 7946 0xxx, 01632 960xxx), NHS numbers are in the 999 test range with a computed check digit,
names and streets are invented.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from bot import redact as redact_module
from bot.redact import Entity, Redaction, RedactionState, Redactor, redact_stream

KEY = b"test-key-0123456789abcdef-not-a-secret"

# Check-digit-valid NHS numbers in the test range (checked by test_nhs_fixtures_are_valid).
NHS_VALID = ["9990001235", "9990004560", "9997654323", "9991112227", "9993004006", "9992468017"]


def _redact(text: str, state: RedactionState | None = None) -> Redaction:
    return Redactor(KEY).redact(text, state)


# (message, expected text) with a fresh state per case.
CASES: list[tuple[str, str]] = [
    # --- NHS numbers -----------------------------------------------------------------------
    ("my nhs number is 9990001235", "my nhs number is [NHS_NUMBER_1]"),
    ("his number 999 000 4560 ok", "his number [NHS_NUMBER_1] ok"),
    ("ref 999-765-4323 thanks", "ref [NHS_NUMBER_1] thanks"),
    ("nhs no 1234567890", "nhs no [NHS_NUMBER_1]"),  # wrong check digit, but next to "nhs"
    ("NHS number: 123-456-7890", "NHS number: [NHS_NUMBER_1]"),
    ("1234567891 is her nhs no", "[NHS_NUMBER_1] is her nhs no"),
    ("numbers 999 111 2227 and 999 300 4006", "numbers [NHS_NUMBER_1] and [NHS_NUMBER_2]"),
    # --- phones ----------------------------------------------------------------------------
    ("call me on 07700 900123", "call me on [PHONE_1]"),
    ("07700900123", "[PHONE_1]"),
    ("mob +44 7700 900123 pls", "mob [PHONE_1] pls"),
    ("+447700900123", "[PHONE_1]"),
    ("0044 7700 900123", "[PHONE_1]"),
    ("+44 (0) 7700 900123", "[PHONE_1]"),
    ("ring (0113) 496 0123 after 5", "ring [PHONE_1] after 5"),
    ("0113 496 0123", "[PHONE_1]"),
    ("020 7946 0123", "[PHONE_1]"),
    ("020-7946-0123", "[PHONE_1]"),
    ("07700.900.123", "[PHONE_1]"),
    ("07700-900-123", "[PHONE_1]"),
    ("01632 960123", "[PHONE_1]"),
    ("my number is 7700 900123", "my number is [PHONE_1]"),  # mobile typed without the 0
    ("text 07700 900456 or 0113 496 0999", "text [PHONE_1] or [PHONE_2]"),
    # --- emails ----------------------------------------------------------------------------
    ("email me sarah.jones@example.com", "email me [EMAIL_1]"),
    ("S.Jones+nhs@Example.co.uk is best", "[EMAIL_1] is best"),
    ("its sarahj88 at gmail dot com", "its [EMAIL_1]"),
    # --- postcodes -------------------------------------------------------------------------
    ("LS1 4AP", "[POSTCODE_1]"),
    ("postcode ls14ap", "postcode [POSTCODE_1]"),
    ("SW1A 1AA", "[POSTCODE_1]"),
    ("m1 1ae", "[POSTCODE_1]"),
    ("B33 8TH and CR2 6XH and DN55 1PT", "[POSTCODE_1] and [POSTCODE_2] and [POSTCODE_3]"),
    ("we live in LS6", "we live in [POSTCODE_1]"),
    ("near m14 tho", "near [POSTCODE_1] tho"),
    ("the ls6 area", "the [POSTCODE_1] area"),
    ("my son is in y6 at school", "my son is in y6 at school"),  # no Y postcode area
    ("i live in wakefield wf1", "i live in wakefield [POSTCODE_1]"),
    ("low b12 levels", "low b12 levels"),  # one-letter areas need a cue
    ("co2 levels on the m6", "co2 levels on the m6"),
    # --- dates -----------------------------------------------------------------------------
    ("born on 12/03/2023", "born on [DATE_1]"),
    ("dob 3.4.22", "dob [DATE_1]"),
    ("DOB: 03-04-2022", "DOB: [DATE_1]"),
    ("dob 030422", "dob [DATE_1]"),
    ("date of birth 12 March 2023", "date of birth [DATE_1]"),
    ("her birthday is 5th june", "her birthday is [DATE_1]"),
    ("5th of june is her bday", "[DATE_1] is her bday"),
    ("she was born march 2023", "she was born [DATE_1]"),
    ("he was born on the 1st of may 2021", "he was born on the [DATE_1]"),
    ("he was 6 months old on Monday in March", "he was 6 months old on Monday in March"),
    ("born 3 weeks early", "born 3 weeks early"),
    ("she was born at 32 weeks", "she was born at 32 weeks"),
    ("appointment on 12/03/2024 at 10am", "appointment on [DATE_1] at 10am"),
    ("born in march", "born in march"),
    ("he was born on 14 feb", "he was born on [DATE_1]"),
    ("d.o.b 12/12/21", "d.o.b [DATE_1]"),
    ("she turned 2 on 3rd august", "she turned 2 on [DATE_1]"),
    # --- addresses -------------------------------------------------------------------------
    ("12 Acacia Avenue", "[ADDRESS_1]"),
    ("we're at flat 3 14 mill road", "we're at [ADDRESS_1]"),
    ("221b baker street", "[ADDRESS_1]"),
    ("7 The Grove", "[ADDRESS_1]"),
    ("14 mill dr", "[ADDRESS_1]"),
    ("we live on elm tree rd", "we live on [ADDRESS_1]"),
    ("I live at 14 Mill Lane, Leeds LS6 2AB", "I live at [ADDRESS_1], Leeds [POSTCODE_1]"),
    ("6 months down the road", "6 months down the road"),
    ("3 nights in a row", "3 nights in a row"),
    ("a 10 min walk", "a 10 min walk"),
    ("flat 2, 19 Hillside Court", "[ADDRESS_1]"),
    ("27a Oakwood Drive", "[ADDRESS_1]"),
    ("saw him 3 times dr patel said", "saw him 3 times dr [STAFF_1] said"),
    # --- people: cues ----------------------------------------------------------------------
    ("my name is Sarah Jones", "my name is [PERSON_1]"),
    ("my name is sarah okafor", "my name is [PERSON_1]"),
    ("im tired", "im tired"),
    ("i'm Zendaya", "i'm [PERSON_1]"),
    ("im priya", "im [PERSON_1]"),
    ("i am a mum of 2", "i am a mum of 2"),
    ("I'm so grateful", "I'm so grateful"),
    ("i'm not happy", "i'm not happy"),
    ("this is ridiculous", "this is ridiculous"),
    ("this is priya", "this is [PERSON_1]"),
    ("hi its sarah jones", "hi its [PERSON_1]"),
    ("a nurse called zendaya", "a nurse called [STAFF_1]"),
    ("she's called zendaya", "she's called [PERSON_1]"),
    ("we saw a nurse named Bethany", "we saw a nurse named [STAFF_1]"),
    ("it's called bronchiolitis", "it's called bronchiolitis"),
    ("she was called back after 2 hours", "she was called back after 2 hours"),
    ("i called reception", "i called reception"),
    ("my son is zayn", "my son is [CHILD_1]"),
    ("my son zayn loved it", "my son [CHILD_1] loved it"),
    ("my daughter is called zaydenn", "my daughter is called [CHILD_1]"),
    ("my baby girl is called amelia-rose", "my baby girl is called [CHILD_1]"),
    ("my 2 year old oscar", "my 2 year old [CHILD_1]"),
    ("my 3yo, max, loves it", "my 3yo, [CHILD_1], loves it"),
    ("our little one freya", "our little one [CHILD_1]"),
    ("my partner tom and i", "my partner [PERSON_1] and i"),
    ("my husband Kwame", "my husband [PERSON_1]"),
    ("my nan Morag came too", "my nan [PERSON_1] came too"),
    ("my twins ayaan and inaya", "my twins [CHILD_1] and [CHILD_2]"),
    ("my kids are amira, yusuf and hana", "my kids are [CHILD_1], [CHILD_2] and [CHILD_3]"),
    ("Zendaya is my daughter", "[CHILD_1] is my daughter"),
    ("zayn's mum here", "[CHILD_1]'s mum here"),
    ("zendaya's mum here", "[CHILD_1]'s mum here"),
    ("im zayns mum", "im [CHILD_1]s mum"),
    ("hiya its zaydenns mum", "hiya its [CHILD_1]s mum"),
    ("my partners mum came", "my partners mum came"),
    ("mum of zendaya", "mum of [CHILD_1]"),
    ("my son is teething", "my son is teething"),
    (
        "my son has autism and my daughter has asthma",
        "my son has autism and my daughter has asthma",
    ),
    ("my son is 3", "my son is 3"),
    ("my son and i", "my son and i"),
    ("my son loves it", "my son loves it"),
    ("my husband is a nurse", "my husband is a nurse"),
    ("my son's name is kacper nowak", "my son's name is [PERSON_1]"),
    # --- people: titles and roles ------------------------------------------------------------
    ("Dr Okonkwo was lovely", "Dr [STAFF_1] was lovely"),
    ("dr. Adeyemi and nurse jones", "dr. [STAFF_1] and nurse [STAFF_2]"),
    ("Mrs O'Brien was amazing", "Mrs [STAFF_1] was amazing"),
    ("mr smith", "mr [STAFF_1]"),
    ("Ms Zendaya Mensah", "Ms [STAFF_1]"),
    ("health visitor okafor", "health visitor [STAFF_1]"),
    ("hv sarah came", "hv [STAFF_1] came"),
    ("the midwife, Chioma, was kind", "the midwife, [STAFF_1], was kind"),
    ("GP Zendaya", "GP [STAFF_1]"),
    ("the GP said", "the GP said"),
    ("gp surgery never answers", "gp surgery never answers"),
    ("the doctor examined him", "the doctor examined him"),
    ("miss you", "miss you"),
    ("they made him miss lunch", "they made him miss lunch"),
    ("miss okafor was kind", "miss [STAFF_1] was kind"),
    ("the midwife unit", "the midwife unit"),
    ("the nurse on nicu was called Precious", "the nurse on nicu was called [PERSON_1]"),
    ("Baby Zendaya was weighed", "Baby [CHILD_1] was weighed"),
    # --- people: gazetteer and ambiguous names ------------------------------------------------
    (
        "Oliver, Amelia, Muhammad, Aisha, Zayn, Priya, Oksana, Kacper, Chidi, Siobhan",
        "[PERSON_1], [PERSON_2], [PERSON_3], [PERSON_4], [PERSON_5], [PERSON_6], [PERSON_7], "
        "[PERSON_8], [PERSON_9], [PERSON_10]",
    ),
    ("amelia-rose was weighed", "[PERSON_1] was weighed"),
    ("oliver smith", "[PERSON_1]"),
    ("Sarah Jones was kind", "[PERSON_1] was kind"),
    ("Zoë and Siân", "[PERSON_1] and [PERSON_2]"),
    ("my daughter grace", "my daughter [CHILD_1]"),
    ("nurse will was lovely", "nurse [STAFF_1] was lovely"),
    ("the nurse will see him", "the nurse will see him"),
    ("my daughter may need a referral", "my daughter may need a referral"),
    ("my son will be seen on monday", "my son will be seen on monday"),
    ("Hope you are well", "Hope you are well"),
    ("I will go", "I will go"),
    ("May I ask", "May I ask"),
    ("faith in them", "faith in them"),
    ("Grace period", "Grace period"),
    ("thanks, Zendaya x", "thanks, [PERSON_1] x"),
    ("thanks so much", "thanks so much"),
    ("Love, Zendaya", "Love, [PERSON_1]"),
    ("we love Leeds", "we love Leeds"),
    ("we are from Leeds", "we are from Leeds"),
    # --- places are not people ----------------------------------------------------------------
    ("St Mary's hospital was good", "St Mary's hospital was good"),
    ("the rosie hospital", "the rosie hospital"),
    ("we were on Lily ward for a week", "we were on Lily ward for a week"),
    ("James Cook University Hospital", "James Cook University Hospital"),
    ("at the james cook university hospital", "at the james cook university hospital"),
    ("we took zayn hospital", "we took [PERSON_1] hospital"),
    # --- allow-list ---------------------------------------------------------------------------
    (
        "GP, A&E, 111, 999, CAMHS, NICU, SCBU, health visitor, school nurse, NHS",
        "GP, A&E, 111, 999, CAMHS, NICU, SCBU, health visitor, school nurse, NHS",
    ),
    ("we waited 4 hours in a&e on saturday night", "we waited 4 hours in a&e on saturday night"),
    ("i rang 111 at 2am", "i rang 111 at 2am"),
    ("camhs referral took 2 years", "camhs referral took 2 years"),
    # --- National Insurance numbers, web addresses and handles ----------------------------------
    ("NI QQ 12 34 56 C", "NI [NI_NUMBER_1]"),
    ("my ni is ab123456c thanks", "my ni is [NI_NUMBER_1] thanks"),
    ("national insurance JT-22-33-44", "national insurance [NI_NUMBER_1]"),
    ("its on facebook.com/sarah.jones88", "its on [URL_1]"),
    ("my insta is @mumlife_jo.", "my insta is [URL_1]."),
    (
        "see https://www.nhs.uk/conditions/bronchiolitis/",
        "see https://www.nhs.uk/conditions/bronchiolitis/",
    ),
    ("i found it on facebook", "i found it on facebook"),
    ("her site www.sarahsbakes.co.uk, lovely", "her site [URL_1], lovely"),
    # --- names no list holds, and names that are also words ----------------------------------
    ("hiwet weighed 5lb at birth", "[PERSON_1] weighed 5lb at birth"),
    (
        "the out of hours doc was rly thorough with sohel",
        "the out of hours doc was rly thorough with [PERSON_1]",
    ),
    ("we waitng ages and noobdy came", "we waitng ages and noobdy came"),  # typos are not names
    ("will has been poorly for 5 days", "[PERSON_1] has been poorly for 5 days"),
    ("it will be fine", "it will be fine"),
    ("hiya ray here", "hiya [PERSON_1] here"),
    ("a ray of sunshine", "a ray of sunshine"),
    ("nobody could see Ray", "nobody could see [PERSON_1]"),
    ("explained everything about will's colic", "explained everything about [CHILD_1]'s colic"),
    ("to get ambers 1 year review booked", "to get [CHILD_1]s 1 year review booked"),
    ("Lots of love Amber and Shona", "Lots of love [PERSON_1] and [PERSON_2]"),
    ("cheers, will", "cheers, [PERSON_1]"),
    ("the hv (penny) was kind", "the hv ([STAFF_1]) was kind"),
    ("we have been waiting since may", "we have been waiting since may"),
    ("i hope so, the summer was hard", "i hope so, the summer was hard"),
    ("she had the patience of a saint with us", "she had the patience of a saint with us"),
    ("we live in Shirley", "we live in Shirley"),
    ("the walk-in centre in beverley", "the walk-in centre in beverley"),
    ("she was in nicu at the jr for a week", "she was in nicu at the jr for a week"),
    (
        "bronchiolitis and mastitis, calpol and amoxicillin",
        "bronchiolitis and mastitis, calpol and amoxicillin",
    ),
    ("we drove to Pinderfields from Harrogate", "we drove to Pinderfields from Harrogate"),
    # --- everything at once ----------------------------------------------------------------
    (
        "my son Jayden Smith-Okafor has a dob of 01/02/2020, call 07700 900456",
        "my son [CHILD_1] has a dob of [DATE_1], call [PHONE_1]",
    ),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0][:40] for c in CASES])
def test_redaction_table(text: str, expected: str) -> None:
    result = _redact(text)
    assert result.text == expected
    _assert_entities_consistent(text, result)


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0][:40] for c in CASES])
def test_redacting_twice_changes_nothing(text: str, expected: str) -> None:
    once = _redact(text).text
    assert _redact(once).text == once


def _assert_entities_consistent(original: str, result: Redaction) -> None:
    """Entities are in order, do not overlap, and rebuild the redacted text from the original."""
    rebuilt = []
    position = 0
    for entity in result.entities:
        assert isinstance(entity, Entity)
        assert entity.type in redact_module.ENTITY_TYPES
        kinds = redact_module.PERSON_ROLES if entity.type == "PERSON" else (entity.type,)
        assert entity.placeholder.startswith(tuple(f"[{kind}_" for kind in kinds))
        assert position <= entity.start < entity.end <= len(original)
        rebuilt.append(original[position : entity.start])
        rebuilt.append(entity.placeholder)
        position = entity.end
    rebuilt.append(original[position:])
    assert "".join(rebuilt) == result.text


# --- property-style: synthetic values in many templates never survive ------------------------

VALUES = {
    "PHONE": [
        "07700 900123",
        "07700900987",
        "+44 7700 900321",
        "+447700900555",
        "0044 7700 900777",
        "(0113) 496 0123",
        "0113 496 0456",
        "020 7946 0789",
        "020-7946-0111",
        "07700.900.222",
    ],
    "NHS_NUMBER": NHS_VALID + ["999 000 1235", "999-765-4323"],
    "EMAIL": ["amira.k@example.org", "zp1990@example.net"],
    "POSTCODE": ["LS1 4AP", "ls14ap", "SW1A 1AA", "M1 1AE", "B33 8TH", "CR2 6XH", "DN55 1PT"],
    "PERSON": ["Zayn", "zayn", "Priya", "Oksana", "Kacper", "Chidi", "Siobhan", "Amelia-Rose"],
}
TEMPLATES = [
    "{}",
    "my details are {} thanks",
    "its {}",
    "{} is the one",
    "hi, {}.",
    "pls use {} x",
    "ok {}!!",
]


@pytest.mark.parametrize("kind", sorted(VALUES))
def test_values_never_survive_any_template(kind: str) -> None:
    for value in VALUES[kind]:
        for template in TEMPLATES:
            text = template.format(value)
            result = _redact(text)
            assert value not in result.text, (text, result.text)
            assert value.lower() not in result.text.lower(), (text, result.text)
            assert kind in {e.type for e in result.entities}, (text, result.entities)


def test_nhs_fixtures_are_valid() -> None:
    """The fixtures really pass mod 11 (independent implementation of the check)."""
    for number in NHS_VALID:
        total = sum(int(d) * (10 - i) for i, d in enumerate(number[:9]))
        assert (11 - total % 11) % 11 == int(number[9])


# --- conversations ---------------------------------------------------------------------------


def test_same_value_same_placeholder_across_messages() -> None:
    redactor = Redactor(KEY)
    state = RedactionState()
    first = redactor.redact("call 07700 900123 or email amira.k@example.org", state)
    second = redactor.redact("on +44 7700 900123, not 0113 496 0123. AMIRA.K@example.org", state)
    assert first.text == "call [PHONE_1] or email [EMAIL_1]"
    assert second.text == "on [PHONE_1], not [PHONE_2]. [EMAIL_1]"


def test_postcode_and_nhs_number_normalised_across_messages() -> None:
    redactor = Redactor(KEY)
    state = RedactionState()
    assert redactor.redact("ls1 4ap, 999 000 1235", state).text == "[POSTCODE_1], [NHS_NUMBER_1]"
    assert redactor.redact("LS14AP 9990001235", state).text == "[POSTCODE_1] [NHS_NUMBER_1]"


def test_name_seen_once_is_redacted_later_without_context() -> None:
    redactor = Redactor(KEY)
    state = RedactionState()
    assert redactor.redact("my son is Zaydenn", state).text == "my son is [CHILD_1]"
    assert redactor.redact("zaydenn loved it", state).text == "[CHILD_1] loved it"
    assert redactor.redact("Zaydenn's nurse was kind", state).text == "[CHILD_1]'s nurse was kind"


def test_later_mention_within_one_message() -> None:
    result = _redact("my daughter is called zaydenn. zaydenn has been poorly")
    assert result.text == "my daughter is called [CHILD_1]. [CHILD_1] has been poorly"


def test_full_name_then_first_name_and_surname() -> None:
    redactor = Redactor(KEY)
    state = RedactionState()
    assert redactor.redact("the hv was Ngozi Okafor", state).text == "the hv was [PERSON_1]"
    assert redactor.redact("ngozi said", state).text == "[PERSON_1] said"
    assert redactor.redact("mrs okafor rang", state).text == "mrs [PERSON_1] rang"
    assert redactor.redact("my son Zaydenn", state).text == "my son [CHILD_1]"


def test_ambiguous_name_later_mention_is_careful() -> None:
    redactor = Redactor(KEY)
    state = RedactionState()
    assert redactor.redact("nurse Will was lovely", state).text == "nurse [STAFF_1] was lovely"
    later = redactor.redact("will you call me? Will was great. i will", state)
    assert later.text == "will you call me? [STAFF_1] was great. i will"


def test_state_json_round_trip_holds_no_raw_values() -> None:
    redactor = Redactor(KEY)
    state = RedactionState()
    raw = [
        "Zaydenn",
        "Okafor",
        "07700 900123",
        "07700900123",
        "9990001235",
        "amira.k@example.org",
        "LS1 4AP",
        "LS14AP",
        "Acacia",
        "2023",
    ]
    redactor.redact(
        "my son is Zaydenn Okafor, 07700 900123, nhs 9990001235, amira.k@example.org, "
        "12 Acacia Avenue LS1 4AP, born 12/03/2023",
        state,
    )
    dumped = json.dumps(state.to_json())
    for value in raw:
        assert value.lower() not in dumped.lower()
        assert value.lower().replace(" ", "") not in dumped.lower()

    restored = RedactionState.from_json(json.loads(dumped))
    assert restored.to_json() == state.to_json()
    follow_up = redactor.redact("zaydenn and 07700900123 and Priya", restored)
    assert follow_up.text == "[CHILD_1] and [PHONE_1] and [PERSON_1]"


def test_from_json_none_is_fresh_and_garbage_is_rejected() -> None:
    assert RedactionState.from_json(None).to_json() == RedactionState().to_json()
    assert RedactionState.from_json({}).to_json() == RedactionState().to_json()
    bad_states: list[dict[str, object]] = [
        {"counters": {}},
        {"version": 99},
        {"version": 1, "counters": {"PERSON": -1}},
        {"version": 1, "counters": {"NAME": 1}},
        {"version": 1, "values": {"Zayn": "[PERSON_1]"}},
        {"version": 1, "values": {"0" * 32: "Zayn"}},
        {"version": 1, "names": []},
    ]
    for bad in bad_states:
        with pytest.raises(ValueError):
            RedactionState.from_json(bad)


def test_digests_depend_on_the_key() -> None:
    state = RedactionState()
    # "Blue" is a dictionary word: only the digest of the cued name can recognise it later.
    assert Redactor(KEY).redact("my son is called Blue", state).text == "my son is called [CHILD_1]"
    assert Redactor(KEY).redact("blue loved it", state).text == "[CHILD_1] loved it"
    other_key = Redactor(b"another-key-entirely-0123456789")
    assert other_key.redact("blue loved it", state).text == "blue loved it"


def test_empty_key_is_refused() -> None:
    with pytest.raises(ValueError):
        Redactor(b"")


def test_empty_text_and_no_state() -> None:
    assert _redact("") == Redaction("", ())
    assert _redact("nothing personal here").entities == ()


# --- word lists --------------------------------------------------------------------------------


def test_word_lists_are_lowercase_and_disjoint() -> None:
    first = redact_module._FIRST_NAMES
    ambiguous = redact_module._AMBIGUOUS_NAMES
    common = redact_module._COMMON_WORDS
    for words in (first, ambiguous, common, redact_module._SURNAMES):
        assert all(w == w.lower() for w in words)
    assert not first & common, sorted(first & common)
    assert not ambiguous & common, sorted(ambiguous & common)
    assert not first & ambiguous, sorted(first & ambiguous)
    assert len(first) >= 300


# --- redact_stream -------------------------------------------------------------------------------

STREAM = [
    "my son is Zaydenn\n",
    "\n",
    "call 07700 900123\r\n",
    "zaydenn loved it\n",
    "",
    "no newline at the end",
]


def test_redact_stream_plain_keeps_order_and_count() -> None:
    out = list(redact_stream(STREAM, KEY, as_json=False))
    assert out == [
        "my son is [CHILD_1]",
        "",
        "call [PHONE_1]",
        "[CHILD_1] loved it",
        "",
        "no newline at the end",
    ]


def test_redact_stream_json_keeps_order_count_and_offsets() -> None:
    out = [json.loads(line) for line in redact_stream(STREAM, KEY, as_json=True)]
    assert [o["text"] for o in out] == list(redact_stream(STREAM, KEY, as_json=False))
    assert out[0]["entities"] == [
        {"type": "PERSON", "placeholder": "[CHILD_1]", "start": 10, "end": 17}
    ]
    assert out[1] == {"text": "", "entities": []}
    assert out[2]["entities"] == [
        {"type": "PHONE", "placeholder": "[PHONE_1]", "start": 5, "end": 17}
    ]
    assert out[3]["entities"][0]["placeholder"] == "[CHILD_1]"


def test_redact_stream_json_keeps_non_ascii() -> None:
    (line,) = redact_stream(["Siân’s café\n"], KEY, as_json=True)
    assert "café" in line and "’" in line
    assert json.loads(line)["text"] == "[PERSON_1]’s café"


def test_redact_stream_is_lazy() -> None:
    def lines() -> Iterator[str]:
        yield "first Zayn"
        raise AssertionError("read past the first line")

    stream = redact_stream(lines(), KEY, as_json=False)
    assert next(stream) == "first [PERSON_1]"


# --- speed sanity --------------------------------------------------------------------------------


def test_a_thousand_messages_redact_quickly() -> None:
    """No timing assertion (CI machines vary); this keeps the cost visible in --durations."""
    messages = [text for text, _ in CASES] * (1000 // len(CASES) + 1)
    redactor = Redactor(KEY)
    state = RedactionState()
    results = [redactor.redact(m, state) for m in messages[:1000]]
    assert len(results) == 1000
