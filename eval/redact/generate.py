"""Generate the redaction evaluation set, ``eval/redact/cases.jsonl``.

What: about 1,200 synthetic parent messages per split ("dev" and "test"), grouped into short
conversations, written the way UK parents text about child health services. Every identifier in a
message is annotated as an entity (PERSON, PHONE, NHS_NUMBER, EMAIL, POSTCODE, DATE, ADDRESS,
NI_NUMBER, URL) and many terms that must survive redaction are annotated as ``keep`` spans
(services, hospitals, towns, durations, weekdays, ages, times, counts, name-words used as words...).

Why: the redactor must be measured on text it was not written against. The set is built from
templates and name pools here, independently of ``bot/redact.py``. Name pools are split into two
disjoint halves by a fixed rule (CRC-32 of the folded name), so the names in "test" never occur in
"dev", and tuning on dev cannot memorise test names.

How: each template is a sentence with slots. ``{child}`` is a person of the conversation's cast
(``{gp:title}`` gives "Dr" + surname, ``{child:he}`` a pronoun), ``{ae}`` or ``{wait}`` a keep term,
``{nhs}`` or ``{pc}`` a structured identifier, ``[[hope]]`` marks a name-word used as a word (keep
kind WORD_NAME; ``[[CLINICAL:croup]]`` gives another kind) and ``<a|b>`` is a literal choice. A
conversation style then decides casing, abbreviations, punctuation and typos. Offsets are computed
only after every piece has its final form, and checked.

Usage::

    python eval/redact/generate.py [--out eval/redact/cases.jsonl] [--check] [--stats]

Only the standard library is used and all randomness comes from ``random.Random(SEED + split)``,
so the output is identical on every run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import re
import sys
import unicodedata
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "cases.jsonl"
SEED = 20250611
SPLITS = ("dev", "test")
MESSAGES_PER_SPLIT = 1200

ENTITY_TYPES = (
    "PERSON",
    "PHONE",
    "NHS_NUMBER",
    "EMAIL",
    "POSTCODE",
    "DATE",
    "ADDRESS",
    "NI_NUMBER",
    "URL",
)
PERSON_ROLES = ("CHILD", "STAFF", "PERSON")
KEEP_KINDS = (
    "SERVICE",
    "PLACE",
    "DURATION",
    "WEEKDAY",
    "AGE",
    "TIME",
    "NUMBER",
    "WORD_NAME",
    "MONTH",
    "CLINICAL",
    "MEDICINE",
    "BRAND",
)
# Minimum counts per split; generation fails loudly if a split falls short.
MIN_PERSON = 400
MIN_STRUCTURED = {"PHONE": 60, "NHS_NUMBER": 60, "EMAIL": 60, "POSTCODE": 60, "DATE": 60}
MIN_STRUCTURED |= {"ADDRESS": 60, "NI_NUMBER": 30, "URL": 30}
MIN_KEEP = 600


def words(block: str) -> list[str]:
    """Whitespace-separated words of a block of text (how the pools below are written)."""
    return block.split()


# --------------------------------------------------------------------------------------------
# Names. Canonical spelling and case; gender f/m. A name's half (dev or test) depends only on the
# name itself (see `half_of`), so a name shared by two communities lands in the same half.
# --------------------------------------------------------------------------------------------

FIRST_NAMES: dict[str, dict[str, str]] = {
    "white_british": {
        "f": """Olivia Amelia Isla Ava Mia Ivy Lily Freya Florence Poppy Isabella Sophia Evie Ella
            Millie Daisy Sienna Willow Elsie Rosie Phoebe Matilda Harper Evelyn Ruby Maisie Lottie
            Esme Emily Charlotte Jessica Chloe Megan Lauren Hannah Sophie Katie Gemma Leanne Stacey
            Kayleigh Jade Danielle Natalie Nicola Joanne Sarah Emma Rachel Claire Helen Karen
            Debbie Tracey Michelle Lisa Julie Donna Kelly Jo Becky Bev Shirley Lorraine Jackie
            Pauline Zoë Chloë Mary-Jane Lacey-Mae""",
        "m": """Oliver George Harry Jack Charlie Alfie Freddie Archie Leo Arthur Noah Oscar Theo
            Jacob Thomas James William Henry Joshua Samuel Daniel Ethan Mason Logan Riley Tommy
            Teddy Reggie Ronnie Albie Craig Darren Lee Wayne Gary Dean Jason Scott Ryan Kyle Liam
            Adam Carl Paul Steve Dave Chris Ian Neil Simon Andy Keith Pete Jamie Ben""",
    },
    "irish": {
        "f": "Siobhán Niamh Aoife Caoimhe Ciara Saoirse Róisín Aisling Orla Gráinne Sinéad Clodagh "
        "Bríd Deirdre Méabh Sláine Máire Éabha",
        "m": "Seán Oisín Cian Conor Darragh Eoin Pádraig Fionn Cillian Ciarán Donal Tadhg Rory "
        "Séamus Tomás",
    },
    "scottish": {
        "f": "Ailsa Iona Morag Eilidh Kirsty Mhairi Catriona Skye Fiona Shona Isla",
        "m": "Callum Fraser Hamish Lachlan Euan Alasdair Ruaridh Struan Angus Calum Murdo Finlay",
    },
    "welsh": {
        "f": "Cerys Seren Nia Ffion Gwen Carys Bethan Rhiannon Lowri Angharad Eleri Mali Heledd",
        "m": "Rhys Dylan Gethin Iwan Owain Elis Osian Tomos Dafydd Emrys Gruffydd Cai Ioan",
    },
    "pakistani": {
        "f": """Inaya Aisha Maryam Zara Hafsa Sana Ayesha Fatima Noor Iqra Amna Samina Nadia Shazia
            Rukhsana Khadija Hira Mehwish Arooj Aleena Anaya Zoya""",
        "m": """Muhammad Ayaan Zayn Ibrahim Yusuf Hamza Omar Ali Hassan Bilal Imran Tariq Asif Zain
            Rayyan Musa Haris Usman Faisal Adnan Shahzad Arham""",
    },
    "indian": {
        "f": """Harpreet Gurpreet Jaspreet Simran Kiran Anika Priya Diya Riya Anjali Sunita Neha
            Kavya Jasleen Parminder Baljit Navneet Pooja Meera""",
        "m": """Arjun Rohan Aarav Vihaan Dev Navdeep Rajinder Ishaan Krishna Sanjay Vikram Amrit
            Harjit Gurdeep Jaswinder Ravi Aditya Kabir Sukhdev Manpreet Amandeep""",
    },
    "bangladeshi": {
        "f": """Nusrat Farzana Sultana Taslima Rumana Jannat Tahmina Mithila Ruksana Shapla Nazia
            Shirin Afia Tasnim Sadia Maliha""",
        "m": """Rahim Karim Sabbir Tanvir Rafiq Shahid Anwar Habib Arif Jamal Rubel Shafiq Sohel
            Zubair Abdul Raihan""",
    },
    "polish": {
        "f": """Zofia Małgorzata Oliwia Zuzanna Wiktoria Agnieszka Katarzyna Magdalena Aleksandra
            Maja Hanna Gabriela Natalia Joanna Ewa Dorota Łucja Bożena""",
        "m": """Łukasz Wojciech Kacper Jakub Szymon Piotr Tomasz Krzysztof Bartosz Mateusz Michał
            Paweł Kamil Marcin Grzegorz Dawid Jędrzej Józef Stanisław""",
    },
    "romanian": {
        "f": "Andreea Ioana Bianca Elena Diana Adriana Alina Cristina Roxana Mihaela Larisa "
        "Mădălina Ștefania Smaranda",
        "m": "Ștefan Mihai Alexandru Cristian Ionuț Răzvan Florin Sorin Andrei Bogdan Vlad",
    },
    "ukrainian": {
        "f": "Yulia Olena Oksana Iryna Sofiia Nataliia Kateryna Viktoriia Halyna Tetiana Daryna",
        "m": "Oleksandr Dmytro Taras Bohdan Mykola Andriy Yaroslav Serhiy Volodymyr Maksym Artem",
    },
    "lithuanian": {
        "f": "Rūta Gintarė Aistė Eglė Ieva Greta Gabija Austėja Indrė Justė",
        "m": "Jonas Tomas Mantas Lukas Karolis Dovydas Matas Domantas Rokas Žygimantas Kęstutis",
    },
    "nigerian": {
        "f": """Ngozi Chioma Adaeze Folasade Temitope Ifeoma Yetunde Chiamaka Damilola Funmilayo
            Blessing Precious Patience Adaora Ebere Titilayo Oluwatoyin""",
        "m": """Tunde Chidi Emeka Oluwaseun Ayodele Chinedu Obinna Adebayo Kehinde Taiwo Tobi Femi
            Segun Ikenna Uchenna Babatunde""",
    },
    "ghanaian": {
        "f": "Ama Akua Abena Efua Esi Afua Adwoa Yaa Akosua Adjoa",
        "m": "Kofi Kwame Kwabena Yaw Kojo Kwaku Kwasi Kwesi Kobina Fiifi Yoofi",
    },
    "somali": {
        "f": "Hodan Hawa Faadumo Hibaaq Yasmin Ikran Ubah Sagal Deeqa Idil Ayan Sahra Nimco Hamdi",
        "m": """Abdi Abdirahman Mohamed Liban Warsame Guled Mahad Abdullahi Bashir Khadar Ilyas
            Shamsudin""",
    },
    "eritrean": {
        "f": "Selam Semhar Rahwa Senait Luwam Saba Hiwet Feven Mebrat Winta Yordanos",
        "m": "Yonas Mehari Filmon Biniam Kidane Robel Dawit Amanuel Natnael Aron Henok",
    },
    "zimbabwean": {
        "f": "Rutendo Tatenda Chipo Fadzai Ruvimbo Tendai Rumbidzai Vimbai Memory Loveness",
        "m": """Tinashe Farai Takudzwa Simbarashe Munashe Tapiwa Tawanda Kudakwashe Tonderai Tafara
            Nyasha Kudzai""",
    },
    "arabic": {
        "f": "Layla Mariam Nour Rania Hala Salma Amira Jana Lina Reem Dalia Yara Huda Malak Lujain",
        "m": "Ahmed Mohammed Khalid Yousef Samir Hussein Rami Mustafa Tarek Ziad Majid Nabil Bassam",
    },
    "chinese": {
        "f": "Mei Jing Xinyi Jiayi Yan Ling Ying Xin Hui Zihan Yuxuan Man-Yee",
        "m": "Wei Jun Hao Haoran Zhihao Yichen Ming Kai Zhiwei Chun Jian Ka-Wai Chi-Keung",
    },
    "caribbean": {
        "f": """Marcia Shanice Keisha Shantelle Beverley Maxine Tianna Shanique Jahnelle Kerry-Ann
            Sharon Paulette Janelle Tanisha""",
        "m": """Jerome Delroy Tyrone Kemar Leroy Winston Desmond Kadeem Jahmai Dwayne Marlon
            Courtney Errol Nathaniel D'Andre De'Shawn""",
    },
    "traveller_roma": {
        "f": """Bridget Kathleen Winnie Margaret Kitty Mena Bernadette Eileen Nora Vashti Lavinia
            Kizzy Dorelia Treena Vanesa Romana Nikola Kristýna""",
        "m": """Johnny Paddy Martin Jimmy Tyson Levi Elijah Reuben Nelson Shamus Mikey Sonny Lenny
            Dinny Dušan Roman Kristián Patrik Marek""",
    },
}

# Names that are also ordinary English words. As names they are PERSON entities; used as words
# (in templates: [[hope]]) they are WORD_NAME keep terms.
WORD_NAMES: dict[str, str] = {
    "f": """Hope Rose Grace Faith Joy May Summer Amber Penny Dawn Holly Autumn April June Charity
        Angel""",
    "m": "Will Bill Mark Frank Hunter Ray Pat Sunny Gift River Sky",
}
# Second parts of composed first names (Amelia-Rose, Alfie-James), drawn from the same half.
COMPOUND_SECOND = {
    "f": "Rose Mae May Grace Jane Lou Leigh Belle Marie Ann",
    "m": "James Lee Jay Ray",
}
# First names that sound wrong on a baby; used for adults only.
ADULT_ONLY = set(
    words(
        """Leanne Stacey Kayleigh Danielle Natalie Nicola Joanne Sarah Helen Karen Debbie Tracey
    Michelle Lisa Julie Donna Kelly Jo Becky Bev Shirley Lorraine Jackie Pauline Gemma Rachel Claire
    Craig Darren Lee Wayne Gary Dean Jason Scott Carl Paul Steve Dave Chris Ian Neil Simon Andy
    Keith Pete Samina Shazia Rukhsana Sunita Parminder Rajinder Harjit Baljit Sukhdev Małgorzata
    Agnieszka Krzysztof Grzegorz Dorota Mykola Halyna Volodymyr Winston Delroy Leroy Maxine Marcia
    Desmond Beverley Bernadette Eileen Kathleen Margaret Paulette Sharon Errol Babatunde Dinny
    Shamus Mena Treena Kęstutis Bożena Józef Stanisław Máire Séamus"""
    )
)

SURNAMES: dict[str, str] = {
    "white_british": """Smith Jones Williams Taylor Brown Davies Wilson Thomas Johnson Roberts
        Robinson Thompson Wright Walker White Edwards Hughes Green Hall Lewis Harris Clarke Cooper
        King Wood Baker Turner Hill Ward Morris Moore Jackson Harrison Marsh Hartley Ackroyd
        Sutcliffe Barraclough Holroyd Fletcher Bentley""",
    "irish": """O'Connor O'Brien Murphy Kelly Byrne Ryan Walsh O'Sullivan McCarthy Doyle O'Neill
        Gallagher Quinn Fitzgerald O'Shea Doherty Delaney O'Donnell O'Reilly O'Hara O'Leary
        O'Driscoll""",
    "scottish": """MacDonald Campbell Stewart Robertson MacKenzie Fraser McLeod Henderson Paterson
        McGregor Ross Murray Sinclair""",
    "welsh": "Pritchard Llewellyn Pugh Bowen Jenkins Powell Griffiths Lloyd Rees Vaughan Morgan",
    "pakistani": """Khan Hussain Ahmed Akhtar Bibi Iqbal Mahmood Rashid Chaudhry Malik Butt Qureshi
        Mirza Sheikh Raja Bhatti""",
    "indian": "Patel Shah Sandhu Gill Dhillon Sidhu Kaur Singh Sharma Kumar Mistry Desai Chauhan "
    "Joshi D'Souza D'Silva D'Costa",
    "bangladeshi": "Rahman Uddin Miah Islam Chowdhury Hoque Begum Ullah Choudhury Alam",
    "polish": """Kowalski Nowak Wiśniewski Wójcik Kowalczyk Kamińska Lewandowski Zieliński
        Szymańska Woźniak Dąbrowski Kozłowski Mazur Krawczyk""",
    "romanian": """Popescu Ionescu Popa Dumitrescu Stan Stoica Constantin Munteanu Rădulescu
        Gheorghe Lungu Ștefănescu""",
    "ukrainian": """Shevchenko Kovalenko Bondarenko Tkachenko Kravchenko Melnyk Boyko Koval Oliynyk
        Lysenko""",
    "lithuanian": """Kazlauskas Jankauskas Petrauskas Stankevičius Vasiliauskas Žukauskas Butkus
        Paulauskas""",
    "nigerian": """Okafor Okonkwo Adeyemi Adebayo Oluwole Nwosu Eze Obi Okeke Balogun Ogunleye
        Adewale Chukwu Nwachukwu Afolabi Ibrahim""",
    "ghanaian": "Mensah Owusu Boateng Asante Osei Appiah Darko Agyeman Ofori Acheampong Amoah Danso",
    "somali": "Mohamed Abdi Hassan Warsame Farah Omar Jama Hersi Ali Aden Yusuf Egal",
    "eritrean": "Tesfay Ghebremedhin Haile Tekle Berhane Kidane Gebremariam Yohannes Woldemichael",
    "zimbabwean": "Moyo Ncube Sibanda Dube Ndlovu Mutasa Chinyama Nyathi Mpofu Maposa Gumbo Makoni",
    "arabic": """Al-Sayed Haddad Nasser Saleh Khalil Mansour Hamdan El-Masri Abdullah Aziz Darwish
        Al-Rashid""",
    "chinese": "Wang Li Zhang Liu Chen Yang Huang Zhao Wu Zhou Lin Wong Chan Cheung Lau Ng Leung",
    "caribbean": """Campbell Brown Grant Francis Clarke Reid Samuels Bailey Stewart Gayle Bennett
        Henry Barrett Forbes Powell""",
    "traveller_roma": """McDonagh Ward Joyce Maughan Connors Doherty Boswell Lovell Loveridge Price
        Lee Stanley Horváth Lakatos Balog Rostas Dudas Kováč Bánó""",
}

# Everyone, weighted so every community turns up many times in each split.
COMMUNITY_WEIGHTS = {
    "white_british": 20,
    "irish": 5,
    "scottish": 5,
    "welsh": 5,
    "pakistani": 9,
    "indian": 7,
    "bangladeshi": 6,
    "polish": 6,
    "romanian": 5,
    "ukrainian": 4,
    "lithuanian": 3,
    "nigerian": 6,
    "ghanaian": 4,
    "somali": 4,
    "eritrean": 3,
    "zimbabwean": 3,
    "arabic": 5,
    "chinese": 4,
    "caribbean": 5,
    "traveller_roma": 4,
}

_FOLD_EXTRA = str.maketrans({"ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "đ": "d", "Đ": "D"})


def strip_diacritics(text: str) -> str:
    """Zoë -> Zoe, Łukasz -> Lukasz, Ștefan -> Stefan (what a phone without accents gives)."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_FOLD_EXTRA))
    return unicodedata.normalize(
        "NFC", "".join(c for c in decomposed if not unicodedata.combining(c))
    )


def fold(text: str) -> str:
    """Comparison key for names: no accents, lower case, no apostrophes."""
    return strip_diacritics(text).lower().replace("'", "").replace("\u2019", "")


def half_of(name: str) -> str:
    """The fixed rule that splits every name pool: CRC-32 of the folded name, even -> dev."""
    return SPLITS[zlib.crc32(fold(name).encode()) % 2]


@dataclass(frozen=True)
class NamePools:
    """The names one split may use."""

    split: str
    first: dict[str, dict[str, list[str]]]  # community -> gender -> names
    word_names: dict[str, list[str]]
    compound_second: dict[str, list[str]]
    surnames: dict[str, list[str]]

    def vocabulary(self) -> set[str]:
        """Folded forms of every name this split may produce."""
        names = [n for by_gender in self.first.values() for ns in by_gender.values() for n in ns]
        names += [n for ns in self.word_names.values() for n in ns]
        names += [n for ns in self.compound_second.values() for n in ns]
        names += [n for ns in self.surnames.values() for n in ns]
        return {fold(n) for n in names}


def build_pools(split: str) -> NamePools:
    def mine(names: Iterable[str]) -> list[str]:
        return sorted({n for n in names if half_of(n) == split}, key=lambda n: (fold(n), n))

    first = {
        community: {g: mine(words(block)) for g, block in by_gender.items()}
        for community, by_gender in FIRST_NAMES.items()
    }
    for community, by_gender in first.items():
        for g, names in by_gender.items():
            if len(names) < 2:
                raise SystemExit(f"name pool {community}/{g} has {len(names)} names in {split}")
    return NamePools(
        split=split,
        first=first,
        word_names={g: mine(words(b)) for g, b in WORD_NAMES.items()},
        compound_second={g: mine(words(b)) for g, b in COMPOUND_SECOND.items()},
        surnames={c: mine(words(b)) for c, b in SURNAMES.items()},
    )


def all_name_keys() -> set[str]:
    """Folded form of every name in every pool, both halves."""
    names = [n for bg in FIRST_NAMES.values() for b in bg.values() for n in words(b)]
    names += [n for b in WORD_NAMES.values() for n in words(b)]
    names += [n for b in COMPOUND_SECOND.values() for n in words(b)]
    names += [n for b in SURNAMES.values() for n in words(b)]
    keys = {fold(n) for n in names}
    return keys | {part for k in keys for part in k.split("-")}


# --------------------------------------------------------------------------------------------
# Keep terms (hard negatives). Each slot: kind, canonical forms, extra forms typed in texts.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeepSlot:
    kind: str
    canonical: tuple[str, ...]
    informal: tuple[str, ...] = ()
    lower_informal: bool = True  # lower-case the canonical form in most informal messages


def ks(kind: str, canonical: str, informal: str = "", lower: bool = True) -> KeepSlot:
    """Forms are separated by ';'."""

    def split(s: str) -> tuple[str, ...]:
        return tuple(" ".join(p.split()) for p in s.split(";") if p.strip())

    return KeepSlot(kind, split(canonical), split(informal), lower)


KEEP_SLOTS: dict[str, KeepSlot] = {
    # services
    "gp_s": ks("SERVICE", "GP", "gp;GP"),
    "ae": ks("SERVICE", "A&E", "a&e;a and e;A and E;A & E;A&E"),
    "s111": ks("SERVICE", "111;NHS 111", "111;nhs 111"),
    "s999": ks("SERVICE", "999"),
    "s116": ks("SERVICE", "116 123"),
    "hv_s": ks("SERVICE", "health visitor;HV", "hv;hv;health visitor;HV"),
    "hv_team": ks("SERVICE", "health visiting team;health visitors;HV team", "hv team;hvs"),
    "mw_s": ks("SERVICE", "midwife;community midwife", "mw"),
    "mw_team": ks("SERVICE", "midwife team;midwives;community midwives", "midwife team;mws"),
    "camhs": ks("SERVICE", "CAMHS", "camhs"),
    "nicu": ks("SERVICE", "NICU;SCBU;special care;neonatal", "nicu;scbu;special care"),
    "sn": ks("SERVICE", "school nurse"),
    "cc": ks("SERVICE", "children's centre;Sure Start centre", "childrens centre;sure start"),
    "hub": ks("SERVICE", "family hub;Family Hub"),
    "wic": ks("SERVICE", "walk-in centre", "walk in centre;walk in;walkin centre"),
    "clinic": ks("SERVICE", "baby clinic;drop-in clinic;weigh-in clinic", "baby clinic;drop in"),
    "ooh": ks("SERVICE", "out of hours;out-of-hours GP", "ooh;out of hours"),
    "utc": ks("SERVICE", "urgent treatment centre;urgent care", "utc;urgent care"),
    "salt": ks("SERVICE", "speech and language;SALT", "salt;speech and language"),
    "hvs": ks("SERVICE", "health visitors;HVs", "hvs;health visitors"),
    "pmh": ks("SERVICE", "perinatal mental health team;perinatal team", "perinatal team"),
    "feeding": ks("SERVICE", "infant feeding team;breastfeeding group", "feeding team;bf group"),
    # places
    "hosp": ks(
        "PLACE",
        """St James's;Leeds General Infirmary;the LGI;Alder Hey;the Rosie;Royal Victoria
        Infirmary;the RVI;Sheffield Children's;Great Ormond Street;Birmingham Children's;the
        Jessop Wing;St Mary's;Bradford Royal Infirmary;Airedale;Pinderfields;Royal Manchester
        Children's;the Evelina;Southmead;Noah's Ark;the Royal London;the Whittington;Homerton;
        Calderdale Royal;Wythenshawe;Ninewells;Queen Elizabeth;the Royal Alex;St Thomas';St
        George's;King's;the Lister;Addenbrooke's;the John Radcliffe;Leicester Royal Infirmary;Hull
        Royal;the Freeman;the Princess Anne;Royal Derby;Sunderland Royal""",
        """jimmys;st james;the lgi;lgi;alder hey;alderhey;the rosie;the rvi;sheffield childrens;
        gosh;great ormond st;bch;jessops;st marys;the bri;airedale;pinderfields;pinders;rmch;the
        evelina;southmead;noahs ark;homerton;wythenshawe;the qe;royal alex;st thomas;st georges;
        kings;addenbrookes;the jr;the lri;hull royal;the freeman""",
    ),
    "town": ks(
        "PLACE",
        """Leeds;Bradford;Halifax;Huddersfield;Wakefield;Keighley;Dewsbury;Batley;Manchester;
        Oldham;Rochdale;Bolton;Wigan;Salford;Sheffield;Rotherham;Doncaster;Barnsley;Liverpool;
        Birkenhead;Newcastle;Gateshead;Sunderland;Middlesbrough;Hull;York;Birmingham;Coventry;
        Wolverhampton;Leicester;Nottingham;Derby;Luton;Slough;Bristol;Cardiff;Swansea;Newport;
        Glasgow;Edinburgh;Dundee;Belfast;Derry;Peterborough;Blackburn;Preston;Burnley;Stoke;
        Harrogate;Chester;Beverley;Shirley;Kendal;Devon;Cornwall""",
        "brum;manc;notts",
    ),
    "road": ks("PLACE", "M62;M1;A64;M60;A1;M6;A61;M8;A58;M5", lower=False),
    # time and quantity
    "wait": ks(
        "DURATION",
        """45 minutes;2 hours;3 hours;4 and a half hours;over an hour;20 minutes;an hour;6 hours;
        half an hour;2 and a half hours;90 minutes;5 hours;40 mins;7 hours""",
        "45 mins;3 hrs;5hrs;ages;forever;20 mins;an hour;6hrs;half an hour;4 hrs;90 mins",
    ),
    "dur": ks(
        "DURATION",
        """2 weeks;3 days;6 months;18 weeks;a fortnight;over a year;2 years;10 days;8 weeks;a
        month;3 months;a few weeks;9 months;5 days;a week;4 months""",
        "2 wks;6 months;ages;3 months;a few wks;2 days;10 months;a yr",
    ),
    "stay": ks(
        "DURATION",
        "2 nights;3 days;a week;10 days;2 weeks;5 days;a night;4 weeks;6 weeks",
        "2 nights;3 days;a wk;10 days;2 wks;a night",
    ),
    "wd": ks(
        "WEEKDAY",
        "Monday;Tuesday;Wednesday;Thursday;Friday;Saturday;Sunday",
        "mon;tues;tue;weds;wed;thurs;thur;fri;monday;tuesday;wednesday;friday;sunday",
    ),
    "month": ks(
        "MONTH",
        """January;February;March;April;May;June;July;August;September;October;November;
        December""",
        "jan;feb;sept;dec;april;may;june",
    ),
    "time": ks(
        "TIME",
        "3am;2am;4am;11pm;10pm;8am;1pm;6pm;9.30;8:30;10:15;midnight;quarter to 5;half past 8",
        "3am;3 am;2am;half 9;half 7;half 8;9.30;10ish;4 in the morning;5 o'clock;8.15",
    ),
    "age_is": ks(
        "AGE",
        "2;3;14 months;6 weeks;10 days;9 months;18 months;4 months;2 and a half;nearly 3;5 weeks",
        "2;3;14 months;6 wks;10 days;9 months;18 months;4 months;2 and a half;1",
    ),
    "age_old": ks(
        "AGE",
        "2 year old;18 month old;6 week old;4 month old;10 day old;9 month old;3 year old",
        "2 year old;3 yr old;2yo;6 wk old;4 month old;5 week old;1 year old;15 month old",
    ),
    "check": ks(
        "AGE",
        """8 week check;6-8 week check;6-8 week review;1 year review;12 month review;2 year
        review;2 and a half year check;27 month check;9-12 month review;6 week check""",
        "8 week check;6 week check;1 yr review;2 yr check;27 month check;2 and a half year check",
    ),
    "times": ks(
        "NUMBER",
        "3 times;4 times;twice;5 or 6 times;10 times;about 8 times",
        "3 times;3x;5x;20 odd times",
    ),
    "n": ks("NUMBER", "3;4;5;6;three;four"),
    "queue": ks("NUMBER", "14;23;9;31;17;40"),
    "rating": ks("NUMBER", "8/10;2/10;10/10;0/10;5/10;9/10;1/10;7/10"),
    "temp": ks("NUMBER", "39.2;38.5;40;39.8;38.9;39"),
    "dose": ks("NUMBER", "5ml;2.5ml;7.5ml;10ml"),
    "weight": ks("NUMBER", "7lb 2oz;6lb 11oz;3.2kg;2.9kg;8lb 4oz;5lb 6oz"),
    "centile": ks("NUMBER", "2nd;9th;25th;75th;0.4th;50th;91st"),
    "h247": ks("NUMBER", "24/7"),
    "money": ks("NUMBER", "£6;£4.50;£12;£2.80;£9;£15"),
    # clinical words, medicines and brands
    "cond": ks(
        "CLINICAL",
        """bronchiolitis;reflux;silent reflux;jaundice;tongue tie;croup;colic;eczema;CMPA;
        chickenpox;hand foot and mouth;conjunctivitis;tonsillitis;constipation;RSV;asthma;thrush;
        cradle cap;nappy rash;glue ear;speech delay;hip dysplasia;plagiocephaly""",
        "cmpa;tongue-tie;rsv;hfm",
    ),
    "pcond": ks("CLINICAL", "PND;postnatal depression;mastitis;anxiety;birth trauma", "pnd"),
    "med": ks(
        "MEDICINE",
        """Calpol;Gaviscon;Infacol;Calprofen;Piriton;ibuprofen;paracetamol;Dioralyte;Oilatum;
        Epaderm;amoxicillin;Movicol;Dentinox;Sudocrem;Nurofen;omeprazole""",
        "calpol;gaviscon;infacol;nurofen;amoxicillin",
    ),
    "syrup": ks(
        "MEDICINE",
        "Calpol;Calprofen;Nurofen;paracetamol;ibuprofen;Gaviscon;Infacol;amoxicillin;Piriton",
        "calpol;nurofen;calprofen;amoxil",
    ),
    "formula": ks(
        "BRAND",
        "Aptamil;Cow & Gate;Kendamil;SMA;Nutramigen;Alfamino;Hipp",
        "aptamil;cow and gate;kendamil;sma;nutramigen",
    ),
    "social": ks(
        "BRAND", "Facebook;WhatsApp;Instagram;Mumsnet;TikTok", "fb;facebook;whatsapp;insta"
    ),
}

# Services for "passed from X to Y": (text, needs "the").
GENERIC_SERVICES: tuple[tuple[str, bool], ...] = (
    ("GP", True),
    ("health visitor", True),
    ("A&E", False),
    ("111", False),
    ("walk-in centre", True),
    ("family hub", True),
    ("CAMHS", False),
    ("midwife team", True),
    ("out of hours", False),
    ("school nurse", True),
    ("urgent care", False),
    ("children's centre", True),
)


# --------------------------------------------------------------------------------------------
# Pieces, styles and rendering.
# --------------------------------------------------------------------------------------------


Record = dict[str, Any]  # one line of cases.jsonl


@dataclass
class Piece:
    """A run of message text; `kind` is lit (plain), ent (entity) or keep."""

    text: str
    kind: str = "lit"
    label: str = ""  # entity type or keep kind
    role: str | None = None  # PERSON role
    extra: dict[str, Any] = field(default_factory=dict)


def lit(text: str) -> Piece:
    return Piece(text)


def ent(text: str, etype: str, role: str | None = None, **extra: object) -> Piece:
    return Piece(text, "ent", etype, role, dict(extra))


def keep(text: str, kind: str) -> Piece:
    return Piece(text, "keep", kind)


@dataclass(frozen=True)
class Style:
    """How one parent types. Applied to literal text, names and keep terms alike."""

    formal: bool  # proper case and punctuation (about a quarter of conversations)
    names_lower: bool  # informal only: names typed in lower case
    diacritics: bool  # Zoë rather than Zoe
    apostrophe: str  # "'", "\u2019" (phone keyboards) or "" (dropped)
    drop_punct: float  # chance to drop each full stop/comma (run-on messages)
    abbreviate: float  # chance to use each texting abbreviation
    typos: float  # chance of a typo per long word
    autocap: bool  # phone capitalises the first letter
    shout: bool  # ALL CAPS
    emoji: float


def make_style(rng: random.Random) -> Style:
    formal = rng.random() < 0.25
    if formal:
        return Style(
            formal=True,
            names_lower=False,
            diacritics=rng.random() < 0.8,
            apostrophe=rng.choice(["'", "'", "\u2019"]),
            drop_punct=0.0,
            abbreviate=0.0,
            typos=rng.choice([0.0, 0.0, 0.01]),
            autocap=False,
            shout=False,
            emoji=rng.choice([0.0, 0.0, 0.15]),
        )
    return Style(
        formal=False,
        names_lower=rng.random() < 0.75,
        diacritics=rng.random() < 0.5,
        apostrophe=rng.choice(["", "", "", "'", "\u2019"]),
        drop_punct=rng.choice([0.6, 0.85, 1.0, 1.0]),
        abbreviate=rng.choice([0.3, 0.6, 0.9]),
        typos=rng.choice([0.0, 0.02, 0.04]),
        autocap=rng.random() < 0.3,
        shout=rng.random() < 0.02,
        emoji=rng.choice([0.0, 0.1, 0.25]),
    )


# Texting abbreviations applied to literal text of informal messages: (pattern, replacements).
ABBREVIATIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (r"\bthank you\b", ("thank u", "ty", "thanku")),
    (r"\bi don't know\b", ("idk", "dunno")),
    (r"\bbecause\b", ("cos", "coz", "bc", "cause")),
    (r"\byou're\b", ("ur", "youre")),
    (r"\byou\b", ("u", "u", "you")),
    (r"\byour\b", ("ur", "ur", "your")),
    (r"\bplease\b", ("pls", "plz")),
    (r"\bthanks\b", ("thx", "thanks", "ta")),
    (r"\bto be honest\b", ("tbh",)),
    (r"\bi'm\b", ("im",)),
    (r"\bdon't\b", ("dont",)),
    (r"\bdidn't\b", ("didnt",)),
    (r"\bcan't\b", ("cant",)),
    (r"\bwasn't\b", ("wasnt",)),
    (r"\bcouldn't\b", ("couldnt",)),
    (r"\bdoctor\b", ("dr", "doc")),
    (r"\bdoctors\b", ("drs", "docs")),
    (r"\bappointment\b", ("appt", "app", "apt")),
    (r"\bappointments\b", ("appts", "apts")),
    (r"\bgoing to\b", ("gonna",)),
    (r"\bwant to\b", ("wanna",)),
    (r"\bprobably\b", ("prob", "probs")),
    (r"\bdefinitely\b", ("defo", "definately", "def")),
    (r"\bthough\b", ("tho",)),
    (r"\bpeople\b", ("ppl",)),
    (r"\bsomething\b", ("smth", "summat")),
    (r"\babout\b", ("abt", "bout")),
    (r"\bokay\b", ("ok", "k")),
    (r"\bmessage\b", ("msg",)),
    (r"\btomorrow\b", ("tmrw", "tomoz")),
    (r"\bbefore\b", ("b4",)),
    (r"\bwould have\b", ("would of", "wouldve")),
    (r"\bcould have\b", ("could of", "couldve")),
    (r"\bnumber\b", ("no", "num")),
    (r"\bhonestly\b", ("honestly", "honeslty")),
    (r"\bweek\b", ("wk",)),
    (r"\band\b", ("&", "n", "and", "and")),
    (r"\breally\b", ("rly", "realy", "really")),
    (r"\bbaby\b", ("baby", "bubba", "bubs")),
)
MISSPELLINGS = {
    "received": "recieved",
    "separate": "seperate",
    "which": "wich",
    "until": "untill",
    "literally": "literaly",
    "tomorrow": "tommorow",
    "appointment": "appointmnet",
    "waiting": "waitng",
    "because": "becuase",
    "their": "there",
    "nothing": "nothin",
    "completely": "completly",
    "explained": "explaned",
    "absolutely": "absolutly",
}
EMOJI = ("🙏", "🙏", "👍", "🤞", "😅", "❤️")


def transform_literal(text: str, style: Style, rng: random.Random) -> str:
    """Turn a template's proper English into how this parent types it."""
    if style.formal:
        text = text.replace("'", style.apostrophe)
        return add_typos(text, style, rng)
    text = text.lower()
    for pattern, replacements in ABBREVIATIONS:

        def abbreviate(m: re.Match[str], options: tuple[str, ...] = replacements) -> str:
            return rng.choice(options) if rng.random() < style.abbreviate else m.group(0)

        text = re.sub(pattern, abbreviate, text)
    text = text.replace("'", style.apostrophe)
    text = re.sub(
        r"[.,;:!](?=\s|$)", lambda m: "" if rng.random() < style.drop_punct else m.group(0), text
    )
    return add_typos(text, style, rng)


def add_typos(text: str, style: Style, rng: random.Random) -> str:
    if style.typos <= 0:
        return text

    def typo(m: re.Match[str]) -> str:
        word = m.group(0)
        if rng.random() >= style.typos:
            return word
        if word.lower() in MISSPELLINGS:
            return MISSPELLINGS[word.lower()]
        i = rng.randrange(1, len(word) - 2)
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]  # swap two letters

    return re.sub(r"\b[a-zA-Z]{5,}\b", typo, text)


def render_keep(slot: KeepSlot, style: Style, rng: random.Random) -> str:
    if style.formal:
        text = rng.choice(slot.canonical)
    else:
        text = rng.choice(slot.canonical + slot.informal)
        if slot.lower_informal and text in slot.canonical and rng.random() < 0.8:
            text = text.lower()
        text = text.replace("'", style.apostrophe)
    return text


# --------------------------------------------------------------------------------------------
# People.
# --------------------------------------------------------------------------------------------

CHILD_ROLES = ("child", "child2", "child3")
ADULT_ROLES = ("me", "partner", "gran", "friend")
STAFF_ROLES = ("hv", "gp", "mw", "nurse", "cons", "recep", "staff")
ROLES = CHILD_ROLES + ADULT_ROLES + STAFF_ROLES
NAME_FORMS = ("", "full", "sur", "title", "short")
WORD_FORMS = ("he", "He", "him", "his", "His", "son", "boy", "sib", "rel", "parent")


@dataclass
class Person:
    role: str  # CHILD, STAFF or PERSON
    first: str
    surname: str
    gender: str
    title: str
    rel: str  # what the parent calls them: mum, husband, nan...
    short: str = ""  # Amelia for a composed Amelia-Rose; else the first name

    def __post_init__(self) -> None:
        self.short = self.short or self.first


def pick_community(rng: random.Random) -> str:
    communities = sorted(COMMUNITY_WEIGHTS)
    return rng.choices(communities, [COMMUNITY_WEIGHTS[c] for c in communities])[0]


def pick_first(
    rng: random.Random, pools: NamePools, community: str, gender: str, child: bool
) -> tuple[str, str]:
    """(first name, short form used in later mentions)."""
    roll = rng.random()
    if roll < 0.09 and pools.word_names[gender]:
        name = rng.choice(pools.word_names[gender])
        return name, name
    candidates = [n for n in pools.first[community][gender] if not (child and n in ADULT_ONLY)]
    name = rng.choice(candidates or pools.first[community][gender])
    if child and roll > 0.9 and "-" not in name and pools.compound_second[gender]:
        second = rng.choice(pools.compound_second[gender])
        if fold(second) != fold(name):
            return f"{name}-{second}", name
    return name, name


def pick_surname(rng: random.Random, pools: NamePools, community: str) -> str:
    name = rng.choice(pools.surnames[community])
    if rng.random() < 0.06:
        other = rng.choice(pools.surnames[pick_community(rng)])
        if other != name and "-" not in other + name:
            name = f"{name}-{other}"  # double-barrelled
    return name


REL_WORDS = {
    "partner": {
        "f": "wife;partner;fiancée;girlfriend;other half",
        "m": "husband;partner;fiancé;boyfriend;other half",
    },
    "gran": {"f": "mum;mam;nan;nana;grandma;mother-in-law;mum", "m": "dad;grandad;father-in-law"},
    "friend": {
        "f": "friend;sister;neighbour;best friend;cousin",
        "m": "friend;brother;neighbour;cousin",
    },
    "me": {"f": "mum", "m": "dad"},
}
STAFF_TITLES = {
    "gp": ("Dr",),
    "cons": ("Dr", "Dr", "Mr", "Miss", "Professor"),
}


def make_cast(rng: random.Random, pools: NamePools) -> dict[str, Person]:
    family = pick_community(rng)
    other = pick_community(rng) if rng.random() < 0.15 else family  # mixed families
    surname = pick_surname(rng, pools, family)
    cast: dict[str, Person] = {}
    taken: set[str] = set()

    def new_first(community: str, gender: str, child: bool) -> tuple[str, str]:
        """A first name nobody else in the conversation has (two Justes would be ambiguous)."""
        for _ in range(50):
            first, short = pick_first(rng, pools, community, gender, child)
            if not {fold(first), fold(short)} & taken:
                break
        taken.update({fold(first), fold(short)})
        return first, short

    for role in CHILD_ROLES:
        g = rng.choice("fm")
        community = family if rng.random() < 0.9 else other
        first, short = new_first(community, g, True)
        cast[role] = Person("CHILD", first, surname, g, "", "", short)
    me_gender = "f" if rng.random() < 0.78 else "m"
    first, _ = new_first(family, me_gender, False)
    cast["me"] = Person("PERSON", first, surname, me_gender, "", "")
    partner_gender = "m" if me_gender == "f" and rng.random() < 0.85 else rng.choice("fm")
    partner_comm = other if rng.random() < 0.5 else family
    first, _ = new_first(partner_comm, partner_gender, False)
    partner_surname = pick_surname(rng, pools, partner_comm) if rng.random() < 0.4 else surname
    cast["partner"] = Person("PERSON", first, partner_surname, partner_gender, "", "")
    for role in ("gran", "friend"):
        g = "f" if rng.random() < 0.75 else "m"
        comm = family if rng.random() < 0.8 else other
        first, _ = new_first(comm, g, False)
        cast[role] = Person("PERSON", first, pick_surname(rng, pools, comm), g, "", "")
    for role in ("me", "partner", "gran", "friend"):
        p = cast[role]
        p.rel = rng.choice(REL_WORDS[role][p.gender].split(";"))
    for role in STAFF_ROLES:
        female_share = {"hv": 0.92, "mw": 0.95, "nurse": 0.85, "recep": 0.9}.get(role, 0.55)
        g = "f" if rng.random() < female_share else "m"
        comm = pick_community(rng)
        titles = STAFF_TITLES.get(role, ("Mrs", "Miss", "Ms") if g == "f" else ("Mr",))
        first, _ = new_first(comm, g, False)
        cast[role] = Person(
            "STAFF", first, pick_surname(rng, pools, comm), g, rng.choice(titles), ""
        )
    return cast


def style_name(name: str, style: Style, rng: random.Random) -> str:
    if not style.diacritics or rng.random() < 0.1:
        name = strip_diacritics(name)
    name = name.replace("'", style.apostrophe if style.apostrophe or rng.random() < 0.5 else "'")
    if not style.formal and style.names_lower:
        name = name.lower()
    return name


def render_person(person: Person, form: str, style: Style, rng: random.Random) -> list[Piece]:
    def name(text: str) -> Piece:
        return ent(style_name(text, style, rng), "PERSON", person.role)

    if form == "":
        return [name(person.first)]
    if form == "short":
        return [name(person.short)]
    if form == "full":
        return [name(f"{person.first} {person.surname}")]
    if form == "sur":
        return [name(person.surname)]
    if form == "title":
        title = person.title
        if style.formal and rng.random() < 0.2 and title in ("Dr", "Mr", "Mrs", "Ms"):
            title += "."
        if not style.formal and title == "Dr" and rng.random() < 0.15:
            title = "doctor"
        return [lit(title + " "), name(person.surname)]
    return [lit(person_word(person, form, rng))]


def person_word(person: Person, form: str, rng: random.Random) -> str:
    f = person.gender == "f"
    simple = {
        "he": "she" if f else "he",
        "He": "She" if f else "He",
        "him": "her" if f else "him",
        "his": "her" if f else "his",
        "His": "Her" if f else "His",
        "boy": "girl" if f else "boy",
        "sib": "sister" if f else "brother",
        "rel": person.rel,
        "parent": "mum" if f else "dad",
    }
    if form == "son":
        plain = "daughter" if f else "son"
        return rng.choice([plain, plain, plain, "dd" if f else "ds", "little one", "LO", "baby"])
    return simple[form]


# --------------------------------------------------------------------------------------------
# Structured identifiers. All synthetic: Ofcom drama phone ranges, NHS numbers in the 999 test
# range, NI numbers with patterned digits.
# --------------------------------------------------------------------------------------------

# (area code, local part prefix, digits to add): Ofcom numbers reserved for TV and radio drama.
LANDLINE_RANGES = (
    ("0113", "4960", 3),
    ("0114", "4960", 3),
    ("0115", "4960", 3),
    ("0116", "4960", 3),
    ("0117", "4960", 3),
    ("0121", "4960", 3),
    ("0151", "4960", 3),
    ("0161", "4960", 3),
    ("020", "79460", 3),
    ("01632", "960", 3),
)


def mobile_number(rng: random.Random) -> str:
    return f"07700900{rng.randrange(1000):03d}"


def landline_number(rng: random.Random) -> tuple[str, str]:
    area, prefix, n = rng.choice(LANDLINE_RANGES)
    return area, prefix + f"{rng.randrange(10**n):0{n}d}"


def format_mobile(digits: str, rng: random.Random) -> str:
    a, b = digits[:5], digits[5:]  # 07700 900123
    forms = [
        f"{a} {b}",
        f"{a} {b}",
        digits,
        digits,
        f"{a} {b[:3]} {b[3:]}",
        f"{a}-{b[:3]}-{b[3:]}",
        f"{a}-{b}",
        f"{a}.{b[:3]}.{b[3:]}",
        f"+44 {a[1:]} {b}",
        f"+44{digits[1:]}",
        f"0044 {a[1:]} {b}",
        f"+44 (0){a[1:]} {b}",
        f"+44(0){digits[1:]}",
        f"{a[1:]} {b}",  # leading 0 missing
        digits[1:],
        f"({a}) {b}",
    ]
    return rng.choice(forms)


def format_landline(area: str, local: str, rng: random.Random) -> str:
    if area == "020":
        forms = [
            f"020 {local[:4]} {local[4:]}",
            f"(020) {local[:4]} {local[4:]}",
            f"020{local}",
            f"0207 {local[1:4]} {local[4:]}",
            f"+44 20 {local[:4]} {local[4:]}",
            f"020-{local[:4]}-{local[4:]}",
        ]
    elif area == "01632":
        forms = [f"01632 {local}", f"(01632) {local}", f"01632{local}", f"+44 1632 {local}"]
    else:
        forms = [
            f"{area} {local[:3]} {local[3:]}",
            f"({area}) {local[:3]} {local[3:]}",
            f"{area}{local}",
            f"{area}-{local[:3]}-{local[3:]}",
            f"{area} {local}",
            f"+44 {area[1:]} {local[:3]} {local[3:]}",
            f"+44 (0){area[1:]} {local[:3]} {local[3:]}",
            f"{area}.{local[:3]}.{local[3:]}",
        ]
    return rng.choice(forms)


def nhs_check_digit(nine: str) -> int | None:
    """Modulus 11 with weights 10..2; None when the check would be 10 (no valid number)."""
    total = sum(int(d) * w for d, w in zip(nine, range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        return 0
    return None if check == 10 else check


def nhs_number(rng: random.Random, valid: bool = True) -> str:
    while True:
        nine = "999" + f"{rng.randrange(10**6):06d}"
        check = nhs_check_digit(nine)
        if valid and check is not None:
            return nine + str(check)
        if not valid:
            wrong = [d for d in range(10) if d != check]
            return nine + str(rng.choice(wrong))


def format_nhs(digits: str, rng: random.Random) -> str:
    return rng.choice(
        [
            digits,
            digits,
            f"{digits[:3]} {digits[3:6]} {digits[6:]}",
            f"{digits[:3]} {digits[3:6]} {digits[6:]}",
            f"{digits[:3]}-{digits[3:6]}-{digits[6:]}",
            f"{digits[:3]} {digits[3:]}",
        ]
    )


NI_LETTERS_1 = "ABCEGHJKLMNOPRSTWXYZ"  # never D F I Q U V
NI_LETTERS_2 = "ABCEGHJKLMNPRSTWXYZ"  # nor O as the second letter
NI_BAD_PREFIXES = {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}
NI_FAKE_DIGITS = ("123456", "654321", "112233", "998877", "121212", "000000", "111111", "246810")


def ni_number(rng: random.Random) -> str:
    while True:
        prefix = rng.choice(NI_LETTERS_1) + rng.choice(NI_LETTERS_2)
        if prefix not in NI_BAD_PREFIXES:
            return prefix + rng.choice(NI_FAKE_DIGITS) + rng.choice("ABCD")


def format_ni(ni: str, rng: random.Random, style: Style) -> str:
    p, d, s = ni[:2], ni[2:8], ni[8]
    text = rng.choice(
        [
            f"{p} {d[:2]} {d[2:4]} {d[4:]} {s}",
            f"{p} {d[:2]} {d[2:4]} {d[4:]} {s}",
            f"{p}{d}{s}",
            f"{p} {d} {s}",
            f"{p}{d[:2]} {d[2:4]} {d[4:]}{s}",
        ]
    )
    return text.lower() if not style.formal and rng.random() < 0.4 else text


POSTCODE_OUTWARD = words(
    """LS1 LS6 LS8 LS9 LS11 LS12 LS28 BD3 BD5 BD7 BD8 BD21 HX1 HX3 HD1 HD2 WF1 WF13
    WF17 M8 M13 M14 M16 M40 OL1 OL6 OL11 BL1 BL3 S2 S4 S10 S65 DN4 L8 L13 L4 CH41 NE1 NE4 NE6 SR2
    TS1 HU3 HU5 YO10 B6 B8 B10 B11 B15 B21 CV1 WV1 LE2 LE4 NG7 DE23 LU1 SL1 BS2 BS5 CF10 CF24 SA1
    G12 G42 EH3 EH7 DD1 BT9 BT12 PE1 BB1 PR1 ST4 E1 E13 N15 N17 SE15 SW9 W12 NW10 EC1A SW1A"""
)
INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"


def postcode(rng: random.Random) -> tuple[str, str]:
    inward = str(rng.randrange(10)) + rng.choice(INWARD_LETTERS) + rng.choice(INWARD_LETTERS)
    return rng.choice(POSTCODE_OUTWARD), inward


def format_postcode(outward: str, inward: str, style: Style, rng: random.Random) -> str:
    joined = rng.random() < (0.1 if style.formal else 0.35)
    text = outward + ("" if joined else " ") + inward
    if style.formal:
        return text
    roll = rng.random()
    if roll < 0.55:
        return text.lower()
    if roll < 0.65:
        return text[0] + text[1:].lower()
    return text


MONTHS = words(
    "January February March April May June July August September October November December"
)


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def random_date(rng: random.Random, first: dt.date, last: dt.date) -> dt.date:
    return first + dt.timedelta(days=rng.randrange((last - first).days + 1))


def format_date(
    d: dt.date, rng: random.Random, style: Style, with_year: bool = True
) -> list[Piece]:
    """Pieces for a date of birth or due date; a leading "the" stays outside the entity."""
    month = MONTHS[d.month - 1]
    if not style.formal and rng.random() < 0.2:
        month = month[:3] if month != "September" else "Sept"
    yy = f"{d.year % 100:02d}"
    numeric = [
        f"{d.day:02d}/{d.month:02d}/{d.year}",
        f"{d.day}/{d.month}/{yy}",
        f"{d.day}.{d.month}.{yy}",
        f"{d.day:02d}.{d.month:02d}.{d.year}",
        f"{d.day:02d}-{d.month:02d}-{d.year}",
        f"{d.day:02d}/{d.month:02d}/{yy}",
    ]
    worded = [
        f"{ordinal(d.day)} {month} {d.year}",
        f"{d.day} {month} {d.year}",
        f"{ordinal(d.day)} of {month} {d.year}",
        f"{month} {d.day} {d.year}",
    ]
    short = [f"{ordinal(d.day)} {month}", f"{d.day} {month}", f"{month} {ordinal(d.day)}"]
    short += [f"{d.day}/{d.month}", f"{d.day:02d}/{d.month:02d}"]
    options = (
        numeric + worded + [rng.choice(short)]
        if with_year
        else short + [f"{ordinal(d.day)} of {month}"]
    )
    text = rng.choice(options)
    if not style.formal and rng.random() < 0.8:
        text = text.lower()
    pieces = []
    if " of " in text and rng.random() < 0.6:
        pieces.append(lit("the "))
    pieces.append(ent(text, "DATE"))
    return pieces


STREET_NAMES = words(
    """Oak Mill Church Station Victoria Albert Park High Chapel School Manor Elm Beech Ash
    Willow Meadow Spring Moor Hall Green Cross Bridge Water Brook Queen's King's Castle Ashfield
    Westfield Holly Cedar Laburnum Sycamore Chestnut Primrose Canal Wharf Hollin Cliff Hawthorn
    Windsor Nelson Granby Harehills Stanley Bankside Fern Heather Linden"""
)
STREET_TYPES = (
    ("Road", "rd"),
    ("Street", "st"),
    ("Lane", "lane"),
    ("Avenue", "ave"),
    ("Close", "close"),
    ("Grove", "grove"),
    ("Drive", "drive"),
    ("Terrace", "terr"),
    ("Crescent", "cres"),
    ("Way", "way"),
    ("Gardens", "gdns"),
    ("Court", "ct"),
    ("View", "view"),
    ("Mount", "mount"),
    ("Rise", "rise"),
)


@dataclass(frozen=True)
class Address:
    number: int
    letter: str
    flat: str
    street: str
    street_type: tuple[str, str]


def make_address(rng: random.Random) -> Address:
    flat = "" if rng.random() < 0.7 else rng.choice([str(rng.randrange(1, 30)), "2B", "1A", "G3"])
    letter = rng.choice("ab") if rng.random() < 0.08 else ""
    return Address(
        rng.randrange(1, 240), letter, flat, rng.choice(STREET_NAMES), rng.choice(STREET_TYPES)
    )


def format_address(a: Address, style: Style, rng: random.Random) -> str:
    type_word = a.street_type[1] if not style.formal and rng.random() < 0.35 else a.street_type[0]
    street = f"{a.number}{a.letter} {a.street} {type_word}"
    if a.flat:
        flat_word = rng.choice(["Flat", "Flat", "Apartment", "Apt"])
        sep = ", " if style.formal or rng.random() < 0.4 else " "
        street = f"{flat_word} {a.flat}{sep}{street}"
    if style.formal:
        return street
    street = street.replace("'", style.apostrophe)
    return street.lower() if rng.random() < 0.85 else street


EMAIL_DOMAINS = (
    "gmail.com",
    "gmail.com",
    "hotmail.co.uk",
    "hotmail.com",
    "outlook.com",
    "yahoo.co.uk",
    "icloud.com",
    "live.co.uk",
    "btinternet.com",
    "googlemail.com",
)


def ascii_name(name: str) -> str:
    return re.sub(r"[^a-z]", "", fold(name))


def email_address(person: Person, rng: random.Random) -> tuple[str, str]:
    """(local part, domain) for a person; rendered several ways by `format_email`."""
    first, last = ascii_name(person.first), ascii_name(person.surname)
    nn = str(rng.randrange(1, 99))
    yy = str(rng.randrange(80, 106) % 100).zfill(2)
    local = rng.choice(
        [
            f"{first}.{last}",
            f"{first}.{last}{nn}",
            f"{first}{last}{yy}",
            f"{first[0]}{last}{nn}",
            f"{first}_{last}",
            f"{first}.{last}+nhs",
            f"{first}{last}x",
            f"mummy.{first}{nn}" if person.gender == "f" else f"{first}{last}{nn}",
            f"{last}.{first}",
        ]
    )
    return local, rng.choice(EMAIL_DOMAINS)


def format_email(local: str, domain: str, rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.12:  # spoken, as some people type it to dodge spam filters
        spoken_local = local.replace(".", " dot ").replace("_", " underscore ")
        return f"{spoken_local} at {domain.replace('.', ' dot ')}"
    if roll < 0.2:
        return f"{local}@{domain}".upper()
    if roll < 0.3:
        return f"{local[0].upper()}{local[1:]}@{domain}"  # phone capitalised it
    return f"{local}@{domain}"


def personal_url(person: Person, rng: random.Random) -> str:
    first, last = ascii_name(person.first), ascii_name(person.surname)
    n = rng.randrange(1, 60)
    handle = rng.choice(
        [
            f"{first}.{last}",
            f"{first}_{last}",
            f"{first}{last}{n}",
            f"{first}s.mum" if person.gender == "f" else f"{first}.dad",
            f"the{last}family",
            f"_{first}{n}_",
            f"{first}.{last}.{n}",
        ]
    )
    plain = handle.replace("_", "").replace(".", "")
    return rng.choice(
        [
            f"facebook.com/{first}.{last}",
            f"https://www.facebook.com/{first}.{last}.{n}",
            f"www.facebook.com/{handle}",
            f"fb.com/{plain}",
            f"instagram.com/{handle}",
            f"https://instagram.com/{handle}",
            f"www.instagram.com/{handle}/",
            f"tiktok.com/@{handle}",
            f"https://www.tiktok.com/@{handle}",
            f"x.com/{plain}",
            f"twitter.com/{handle}",
            f"linktr.ee/{handle}",
            f"{plain}.wordpress.com",
            f"https://{plain}.blogspot.com",
            f"www.{first}{last}photography.co.uk",
            f"gofundme.com/f/help-{first}-{last}",
        ]
    )


@dataclass
class Identifiers:
    """A conversation's identifiers, so a repeated identifier stays the same."""

    mobile: str
    mobile2: str
    landline: tuple[str, str]
    nhs: dict[str, str]
    nhs_bad: str
    email: tuple[str, str]
    email2: tuple[str, str]
    email_old: tuple[str, str]
    postcode: tuple[str, str]
    address: Address
    dob: dict[str, dt.date]
    dob_me: dt.date
    due: dt.date
    ni: str
    ni2: str
    url: str
    url2: str


def make_identifiers(rng: random.Random, cast: dict[str, Person]) -> Identifiers:
    child_dob = random_date(rng, dt.date(2019, 1, 1), dt.date(2025, 9, 30))
    twin = rng.random() < 0.3
    return Identifiers(
        mobile=mobile_number(rng),
        mobile2=mobile_number(rng),
        landline=landline_number(rng),
        nhs={role: nhs_number(rng) for role in ("child", "child2", "me")},
        nhs_bad=nhs_number(rng, valid=False),
        email=email_address(cast["me"], rng),
        email2=email_address(cast["partner"], rng),
        email_old=email_address(cast["me"], rng),
        postcode=postcode(rng),
        address=make_address(rng),
        dob={
            "child": child_dob,
            "child2": child_dob
            if twin
            else random_date(rng, dt.date(2016, 1, 1), dt.date(2025, 9, 30)),
        },
        dob_me=random_date(rng, dt.date(1980, 1, 1), dt.date(2005, 12, 31)),
        due=random_date(rng, dt.date(2026, 1, 1), dt.date(2026, 12, 31)),
        ni=ni_number(rng),
        ni2=ni_number(rng),
        url=personal_url(cast["me"], rng),
        url2=personal_url(cast["friend"], rng),
    )


def render_identifier(slot: str, ids: Identifiers, style: Style, rng: random.Random) -> list[Piece]:
    if slot in ("mob", "mob2"):
        return [ent(format_mobile(ids.mobile if slot == "mob" else ids.mobile2, rng), "PHONE")]
    if slot == "tel":
        return [ent(format_landline(*ids.landline, rng), "PHONE")]
    if slot == "phone":
        if rng.random() < 0.7:
            return [ent(format_mobile(ids.mobile, rng), "PHONE")]
        return [ent(format_landline(*ids.landline, rng), "PHONE")]
    if slot in ("nhs", "nhs2", "nhs_me"):
        role = {"nhs": "child", "nhs2": "child2", "nhs_me": "me"}[slot]
        return [ent(format_nhs(ids.nhs[role], rng), "NHS_NUMBER")]
    if slot == "nhs_bad":
        return [ent(format_nhs(ids.nhs_bad, rng), "NHS_NUMBER", checksum_valid=False)]
    if slot in ("email", "email2", "email_old"):
        local, domain = {"email": ids.email, "email2": ids.email2, "email_old": ids.email_old}[slot]
        return [ent(format_email(local, domain, rng), "EMAIL")]
    if slot == "pc":
        return [ent(format_postcode(*ids.postcode, style, rng), "POSTCODE")]
    if slot == "out":
        outward = ids.postcode[0]
        return [ent(outward if style.formal or rng.random() < 0.4 else outward.lower(), "POSTCODE")]
    if slot == "addr":
        return [ent(format_address(ids.address, style, rng), "ADDRESS")]
    if slot in ("dob", "dob2"):
        return format_date(ids.dob["child" if slot == "dob" else "child2"], rng, style)
    if slot == "dobc":  # compact, only after a "dob" cue: 140323
        d = ids.dob["child"]
        return [ent(f"{d.day:02d}{d.month:02d}{d.year % 100:02d}", "DATE")]
    if slot == "dob_me":
        return format_date(ids.dob_me, rng, style)
    if slot == "due":
        return format_date(ids.due, rng, style, with_year=rng.random() < 0.3)
    if slot in ("ni", "ni2"):
        return [ent(format_ni(ids.ni if slot == "ni" else ids.ni2, rng, style), "NI_NUMBER")]
    if slot in ("url", "url2"):
        return [ent(ids.url if slot == "url" else ids.url2, "URL")]
    raise KeyError(slot)


IDENTIFIER_SLOTS = words(
    """mob mob2 tel phone nhs nhs2 nhs_me nhs_bad email email2 email_old pc out addr dob dob2 dobc
    dob_me due ni ni2 url url2"""
)


# --------------------------------------------------------------------------------------------
# Templates. Written in proper English; informal styles lower-case and abbreviate them. A line
# starting with spaces continues the template above. Rules for writing them:
# - no names, numbers or places in literal text: those go in slots, so they are annotated;
# - every name-word used as a word is marked [[hope]] (checked by `validate_templates`);
# - only write a case if its annotation is certain (no appointment dates, no service phone
#   numbers other than 111/999/116 123).
# --------------------------------------------------------------------------------------------

OPENERS = """
Hi, I'm {me} and my {child:son} {child} is {age_is}. The {hv_s} has been <brilliant|great|really
  helpful> to be honest.
Hi, {me} here, {child}'s {me:parent}. We saw {hv_s} {hv} for {child:his} {check} on {wd} and {hv:he}
  was lovely.
My {child:son} {child} had {child:his} {check} last {wd}. The {hv_s} ({hv}) was really kind and didn't
  rush us at all.
Took {child} to {ae} at {hosp} on {wd} night, we waited {wait} to be seen and nobody told us
  anything.
{child} has had {cond} for {dur} and the {gp_s} kept saying it was just viral.
The {hv_s} ({hv}) was <lovely|amazing|fab>, {hv:he} actually listened to me about {child}'s {cond}.
My twins {child} and {child2} were in {nicu} at {hosp} for {stay} and the nurses were amazing.
My {child:son} is called {child} and {child:he} was born on {dob} at {hosp}.
{gp:title} at our surgery was brilliant with {child}, <listened to everything I said|took me
  seriously for once>.
Rang {s111} at {time} because {child} had a temp of {temp} and they sent us straight to {ae}.
I'm {me}, {me:parent} to {child} ({age_old}) and {child2} ({age_is}).
My partner {partner} and I felt completely ignored when {child} was in {nicu}.
Our {hv_s} {hv} came to do the {check} and spotted {child}'s [[CLINICAL:tongue tie]] straight away.
We were passed from the {gp_s} to the {hv_s} to {ae} and back again, {n} different people told us
  different things about {child}'s {cond}.
Nobody told us who to call after {child} came home from {hosp}. In the end my {gran:rel} {gran} rang
  {s111} for us.
Our {mw_s} {mw} was amazing when {child} was born at {hosp}, I can't fault {mw:him}.
The receptionist at the {gp_s} was so rude, told me to ring back at {time} and by then all the
  appointments had gone.
Hi it's {me}, {child}'s {me:parent}. We spoke on {wd} about the {check}.
{child} and {child2} both had {cond} and {gp:title} told us to give them {syrup}.
My {child:son} {child} is {age_is} and we've only seen the {hv_s} once.
I had to chase the {hv_team} {times} to get {child}'s {check} booked.
Our {hv_s} {hv:full} is the best, {hv:he} came every week when I was struggling with {pcond}.
My {child:son} {child:full} has {cond} and we've been waiting {dur} to see {cons:title} at {hosp}.
We live in {town} and the nearest {hub} is miles away, so {child} hasn't been weighed for {dur}.
I'm {me} ({child} and {child2}'s {me:parent}). Mostly good but the {gp_s} needs to listen more.
Consultant {cons:title} at {hosp} was the first person who actually listened about {child}'s
  {cond}.
{child} was born at {hosp} {dur} ago and the {mw_team} were fab.
My {partner:rel} {partner} had to take {dur} off work because nobody could see {child}.
The nurse at the {wic}, {nurse}, spotted {child}'s {cond} when the {gp_s} had missed it.
{child} ({age_old}) has {cond} and the {gp_s} keeps saying wait and see.
Hiya, {me} here. I'd give the {hv_team} {rating}, they've been so good with {child}.
{me} here ({me:parent} of {n}). The {check} for {child} was rushed, {wait} in and out.
My {child:son} {child} was in {hosp} with {cond} for {stay} and the staff on the ward were lovely.
I'm {child}'s {me:parent}, {me}, and every letter about {child} went to my {partner:rel} not me.
{nurse:title} at the {clinic} was really helpful with {child}'s weaning.
My {child:son} is called {child}. {child:He} was born early and spent {stay} in {nicu} at {hosp}.
{child} is my first, {child:he}'s {age_is} and I had no idea what the {hv_s} was for to be honest.
Honestly the {wic} in {town} was better than the {gp_s}, saw {child} within {wait}.
We moved to {town} from {town2} when {child} was {age_is} and had to start again with a new
  {hv_team}.
My {gran:rel} {gran:full} came with me to every appointment for {child} because I don't drive.
I'm {me:full}. The {mw_team} at {hosp} were great but the aftercare was not.
{child} and {child2} are {age_is} and we've seen {n} different {hvs} in that time.
The {hv_s} {hv} told me about the {hub} in {town} and it has been a lifesaver for me and {child}.
My {child:son} is called {child} and {child:he} has {cond}, {gp:title} was the only one who
  listened.
My {child:son} is called {child} and {child:he}'s {age_is}, the {check} was fine.
Dr {gp:sur} was lovely with {child} but the wait for an appointment was {dur}.
Sorry it's {me} again, {child}'s {me:parent}, forgot to say about the {hv_s}.
{child} had {cond} at {age_is} and we didn't know whether to ring {s111} or go to {ae}.
We are new to the area, {child} is {age_old} and I still don't know who our {hv_s} is.
Me and {partner} were in {ae} with {child} till {time}, the nurse {nurse} was brilliant.
{cons:title} and {nurse:title} at {hosp} explained everything about {child}'s {cond}.
{hv:full} from the {hv_team} rang me {times} after {child} was born, so supportive.
My {child:son} {child:short} had {child:his} {check} at the {cc} and the {hv_s} was lovely.
My {child:son} ({child}) was seen at {hosp} and then discharged with no follow up at all.
{child} has been poorly on and off since {month} and we've seen the {gp_s} {times}.
Hi I'm {me}, {child}'s {me:parent}. Mixed experience to be honest, the {mw_team} were great but
  the {hv_team} less so.
Hello, my name is {me:full} and my {child:son} {child} is {age_is}.
We didn't know who to call when {child} stopped feeding at {time}, in the end we rang {s111}.
The best thing was our {hv_s}, {hv:full}. {hv:He} never rushed me.
The worst part was being passed between the {gp_s} and {ae} when {child} had {cond}.
I'm a first time {me:parent} to {child}, {age_is}, and the {hv_s} has been my lifeline.
Our {hv_s}'s name is {hv} and honestly {hv:he}'s the reason I kept going.
My {child:son} {child} has {cond} and we've been to {ae} {times} since {month}.
Me and {partner} both work and the {clinic} is only open on a {wd} morning.
Hi, {me} here. The {hv_s} who did {child}'s {check} didn't speak to me, only to my {partner:rel}.
"""

FOLLOWUPS = """
Then {child} was sick again on {wd} and we ended up back at {ae}.
{child} is doing <loads|much> better now, {child:he}'s {age_is} next week.
{hv} rang me back the same day which I really wasn't expecting.
{child} still isn't sleeping, up at {time} every night.
Honestly if it wasn't for {hv} I don't know what I'd have done.
{partner} had to take {dur} off work in the end.
When we finally saw {gp:title} {gp:he} said it was {cond} and gave us {med}.
{child} has been on {med} for {dur} and it's not helping.
It was {mw} who noticed {child}'s [[CLINICAL:jaundice]], not the doctors.
We were passed from {svc} to {svc2} and nobody wanted to own it.
{child:He} was seen by {n} different people in {dur} and every one of them told us something
  different.
Nobody told me about the {hub} until {child} was {age_is}.
{gp:title} was the only one who took it seriously.
My {gran:rel} {gran} came with us because {partner} was at work.
In {month} the {clinic} moved and nobody told us, so we missed {child}'s weigh-in.
I [[hope]] things change for other parents.
The {mw_team} were lovely but the postnatal ward was awful, nobody came for {wait} when I buzzed.
{child} was weighed at the {clinic}, {child:he} was on the {centile} centile and they didn't seem
  worried.
{hv} came back out {times} to help with feeding, I can't thank {hv:him} enough.
{child} ended up with {cond} and we were in {hosp} for {stay}.
Then on {wd} {child2} caught it as well!
{cons:title} was honest with us, which I appreciated.
{recep} on reception is the only reason we got seen that day.
{child}'s {check} got cancelled {times} and nobody rang to rebook.
I'd give the {hv_team} {rating} and the {gp_s} {rating2}.
There was no [[joy]] getting through on the phone, I was number {queue} in the queue at {time}.
I've lost [[faith]] in the {gp_s} to be honest.
{child:His} temperature [[rose]] again overnight so we rang {s111}.
{child:He} has a little red [[mark]] on {child:his} arm that the {hv_s} looked at and said was fine.
Parking at {hosp} was {money} a day, the [[bill]] really adds up when you're there every day.
It [[will]] get better, that's what {hv} kept telling me.
They said it [[may]] be {cond} but they would wait and see.
Over the [[summer]] the {hub} was closed and there was nowhere to go.
The {hv_s} was a [[blessing]], genuinely.
{nurse} had the [[patience]] of a saint with {child}.
Waiting lists are [[sky]] high for {camhs}, we've been waiting {dur}.
The [[penny]] dropped when the {hv_s} explained it with a drawing.
The {s111} nurse said {child:his} symptoms were [[amber]] so we had to go in.
To be [[frank]] I felt judged by the {gp_s}.
They told me to [[pat]] {child:his} back and keep {child:him} upright after feeds.
Up until [[dawn]] with {child} most nights because of the {cond}.
The nurse on {nicu} was an [[angel]].
Those first weeks are so [[precious]] and we lost them to a hospital ward.
It was [[sunny]] so we walked to the {clinic}.
{hv} has a real [[gift]] with babies.
A local [[charity]] helped us more than the {gp_s} did.
The new {hub} is down by the [[river]] and it's a lovely building.
{hv} was a [[ray]] of sunshine when I had {pcond}.
{child} is fine now thank god.
Anyway {child} is {age_is} now and doing well.
It took {dur} to get {child} seen by {camhs}.
{partner} rang {s111} while I sat with {child}.
We saw {gp:title} again and {gp:he} referred {child} to {hosp}.
The {check} was rushed, we were in and out in {wait}.
{child2} has been fine, it's just {child} really.
{child:short} is so much happier since the [[CLINICAL:tongue tie]] was cut at {hosp}.
{hv} said to try {formula} but {child} was sick on that too.
We switched {child} to {formula} on {wd} and {child:he}'s been better since.
I gave {child} {dose} of {syrup} at {time} like the pharmacist said.
I found the {social} group more helpful than the {hv_team} to be honest.
Nobody explained what the {check} was actually for.
The letter came {dur} after the appointment.
There's no [[grace]] period, if you're [[DURATION:10 minutes]] late they cancel you.
The nurse {nurse} stayed past the end of {nurse:his} shift with us.
I rang {times} on {wd} and never got through.
{friend} from the baby group told me about the {hub}, not the {hv_s}.
My {friend:rel} {friend} drove us to {hosp} because the ambulance was going to take {wait}.
{child} weighed {weight} at birth and was on the {centile} centile by the {check}.
The {hv_s} who came after {hv} was nowhere near as good.
{hv} was the only one who asked how I was doing.
Don't get me wrong, {gp:title} was kind, but {dur} for an appointment is too long.
{child} was born at {weight} so we were in {nicu} for {stay}.
{mw} came out on {wd} and {wd2}, couldn't have asked for more.
Since [[autumn]] we've had {n} different {hvs}.
{child:He} still has {cond} and we are back at the {gp_s} on {wd}.
We rang {s999} when {child} stopped breathing for a few seconds, the call handler was amazing.
{child} is {age_is} now and we still haven't had the {check}.
My {partner:rel} felt completely left out, nobody spoke to {partner} at all.
{gran} says it was better in {gran:his} day to be fair.
The {hv_team} rang at {time} on a {wd} when I was at work.
It was {cons:title} who finally diagnosed {child}'s {cond} at {hosp}.
We got stuck on the {road} for {wait} on the way to {hosp}.
The {hv_s} said {child} is fine and is just a small {child:boy}.
{hv} referred {child} to {salt} and we've been waiting {dur}.
Nobody at {hosp} asked about {child2} who was at home with my {gran:rel}.
The {utc} sent us home and by {time} {child} was worse.
The {ooh} doctor was really thorough with {child}.
The {feeding} saved us, {child} is still breastfed at {age_is}.
Back in {month} we were told {child} would be seen <soon|within weeks|quickly>, we're still waiting.
We've been giving {med} since {month} and the {gp_s} won't change it.
The {gp_s} prescribed {formula} in {month} and the pharmacy never has it in.
{child} was on [[MEDICINE:Calpol]] and [[MEDICINE:ibuprofen]] for days with the {cond}.
The {mw_s} said {med} was fine to take while breastfeeding.
We got a letter in {month} saying the {check} would be at the {hub}.
I asked about {formula} and the {hv_s} just told me to look on the {social} group.
The {hv_s} rang on {wd}, saw us on {wd2} and had us referred by {month}.
{child:His} [[CLINICAL:eczema]] cream ran out and the {gp_s} took {dur} to issue more.
I had to repeat {child}'s whole story {times}, nobody reads the notes.
The {hv_s} said one thing and the {gp_s} said the complete opposite about {child}'s {cond}.
Nobody ever told us the {hv_team} existed until {child} was {age_is}.
I didn't know if I should ring the {hv_team} or the {gp_s}, so I rang nobody.
{hv} gave me the details for the {feeding} and it changed everything.
We were signposted to the {hub} and they were brilliant with {child}.
I felt like {gp:title} didn't believe me about {child}.
{child} was discharged from {hosp} at {time} with no advice at all.
The {mw_team} never turned up on {wd}, we waited in all day.
When I said I was struggling the {hv_s} referred me to the {pmh} within {dur}.
{hv} remembered {child}'s name and asked about {child2} too, it's the little things.
The {s111} call handler was kind but it took {wait} to get a call back.
{partner} felt like a spare part at every appointment.
Every time we see a different {hv_s} I have to explain {child}'s {cond} all over again.
Being listened to made all the difference, {hv} actually heard me.
The {clinic} is only on a {wd} morning and I work.
There's no parking at the {hub} and the bus takes {wait}.
{gp:title} phoned back within {wait}, really reassuring.
The interpreter didn't turn up so my {friend:rel} {friend} had to translate for me.
Nobody explained things in a way {partner} could understand, {partner:his} English isn't great.
{child} was weighed and measured and that was it, no one asked how we were.
I ended up googling everything because the {gp_s} had no time.
The {hv_s} came to the house and didn't make me feel judged, that meant a lot.
The leaflet they gave us was only in English.
When {child} was admitted to {hosp} the nurses let me stay the night.
The {ae} doctor said it was nothing and the {gp_s} said it was serious.
Since {month} the {hv_team} only do phone calls.
{recep} at the surgery got us an emergency slot at {time}.
Even the {s111} adviser said {child:he} should have been seen sooner.
Honestly {hv:full} deserves a medal.
The {hv_s} said {hv:he} [[will]] ring back on {wd}, {hv:he} never did.
[[Hope]] {child} gets seen soon.
It [[may]] just be a phase, the {hv_s} said.
They said {child:he} [[may]] grow out of the {cond} by {age_is}.
We [[will]] see what the {gp_s} says on {wd}.
"""

CONTACT = """
You can ring me on {mob} if you want to know more.
My number is {phone}, best after {time}.
Call me on {mob} or the landline {tel}.
My email is {email}.
Email me at {email} if that's easier, I work {wd} to {wd2}.
{child}'s NHS number is {nhs} if you need it.
{child:His} NHS no. is {nhs}.
They couldn't find {child:him} on the system even with {child:his} NHS number ({nhs}).
I think {child:his} NHS number is {nhs_bad} but I might have typed it wrong.
NHS number {nhs_bad}
{child:His} NHS number should be {nhs_bad}, not sure that's right though.
I've got {child}'s NHS no as {nhs_bad} in my notes.
We live at {addr}, {pc}.
Our address is {addr} {pc} if you want to send anything.
We're in {out} so it's the {hub} on the other side of town we're meant to use.
We moved to the {out} area {dur} ago and had to re-register with a new {gp_s}.
{child:His} date of birth is {dob}.
{child} was born {dob}.
Dob {dobc}
I'm due again on {due}, hopefully with the same {mw_team}.
They wanted my national insurance number for the form, it's {ni}.
My NI number is {ni} if that's what you need.
I put a post about our experience on {url}.
My page is {url} if you want to see the group I set up for parents.
It's {me:full}, {dob_me}, {addr}, {pc}, mobile {mob}.
{me:full}, {addr}, {pc}. Phone {phone}. Email {email}.
My partner {partner}'s number is {mob2}.
My {gran:rel}'s mobile is {mob2}, {gran:he} usually takes {child} to appointments.
Text me on {mob}, or email {email2} which is my {partner:rel}'s.
{child}'s dob is {dob} and {child:his} NHS number is {nhs}.
Twins are {child} and {child2}, born {dob}, NHS numbers {nhs} and {nhs2}.
I'm {me}, my number is {mob}, we're at {addr}.
The {hv_team} had our old address, {addr}, so the letters never came.
My own NHS number is {nhs_me} and my date of birth is {dob_me}.
My due date was {due} but {child} came <a bit|really|way> early.
Postcode is {pc}.
We're in {out} now but the {gp_s} is still in {town}.
It's {nhs} for {child} and {nhs2} for {child2}.
My details: {me:full}, NI {ni}, phone {mob}.
The {hv_s} asked for my {partner:rel}'s NI number, it's {ni2}.
My blog about {child}'s {cond} is at {url}.
My friend {friend} runs {url2}, it helped me more than anything.
Please email {email} not {email2}.
Ring {mob} or {tel} any time after {time}.
They sent the letter to {addr} {pc} but we moved {dur} ago.
I'm at {addr}, {pc}, so the {hub} down the road is closest.
Contact me on {phone} or {email}, thanks.
I was born {dob_me} if you need it for the records.
This is about {child:full}, born {dob}, we live at {addr} {pc}.
NHS no {nhs} DOB {dob}
Mobile {mob} email {email}
I share our story on {url}, there's a lot about the {nicu} stay on there.
If you want to see the rash, the photos are on my page {url}.
Follow our journey at {url} if you like.
I wrote about being passed from {svc} to {svc2} on {url}.
My {friend:rel} {friend} writes about {cond} at {url2}, it helped me loads.
The {hv_s} said I could share my page, it's {url}.
NI {ni}
National insurance is {ni}.
The {hub} form wanted my NI ({ni}) and my {partner:rel}'s ({ni2}).
For the free childcare they need my NI number, {ni}, is that right?
I gave them my national insurance number, {ni}, and they still couldn't find us.
My NI number is {ni} and my {partner:rel}'s is {ni2}.
Can you send the summary to {email} please?
My email's {email} but I hardly check it.
The {hv_team} have my old email, {email_old}, the new one is {email}.
Email is {email}, thanks.
The {mw_s} went to {addr} instead of our new place.
We're at {addr} now, next to the {cc}.
Can they send the letter to {addr}?
The {hv_s} couldn't find {addr}, it's round the back of the shops.
{addr}, {pc}
Our postcode is {pc}.
{pc} is our postcode but the {gp_s} says we're out of area.
{child:He} was born on {dob} weighing {weight}.
{child}'s birthday is {dob}, {child:he} [[will]] be {age_is}.
I'm due {due}, and no one has explained what happens with the {hv_team} after.
Date of birth {dob}, NHS number {nhs}.
{child2} was born {dob2} at {hosp}.
"""

SIGNOFFS = """
Thanks, {me} x
{me} x
Thank you. {me}
Cheers, {me}
Thanks for listening, {me} ({child}'s {me:parent})
That's everything, thanks. {me:full}
Thank you so much, from {me} and {child} x
Thanks x
[[Will]] do, thanks.
[[Hope]] this helps x
Okay thank you.
[[May]] I add one more thing? The {hv_s} was great.
Thanks again, {me:short}
Lots of love {me} and {child}
{me} ({child} and {child2}'s {me:parent})
Kind regards, {me:full}
Many thanks, {me} ({child}'s {me:parent})
"""

STANDALONE = """
Took {child} to the {wic} on {wd}, waited {wait}, then got sent to {ae} anyway.
{child} has been poorly for {dur}, we've seen the {gp_s} {times} and still no answers.
Waited {wait} in {ae} at {hosp} with a {age_old} with a temp of {temp}. Not good enough.
The {check} was great, {hv} was so reassuring.
Rang {s111} at {time}, got a call back at {time2}, then told to go to {ae}. {rating}.
Open {h247}? Not when you actually need them.
The {hub} in {town} is amazing, the {social} group tells you when the {clinic} is on.
Couldn't get through to the {hv_team} on {wd}, tried {times}.
Gave {child} {dose} of {syrup} like the pharmacist said and it helped.
Born at {hosp}, {weight}, in {nicu} for {stay}.
{child} and {child2} both had [[CLINICAL:chickenpox]] at the same time, the {gp_s} was no help.
Been waiting {dur} for a {camhs} appointment.
The {mw_s} was lovely, the {hv_s} not so much.
{child} is {age_is} and has never seen the same {hv_s} [[NUMBER:twice]].
The {sn} at the school is brilliant with {child}'s {cond}.
{hv} is the best {hv_s} in {town}.
{child} has {cond}, {gp:title} referred us to {hosp}, the wait is {dur}.
Nobody rang back from the {hv_team}. {rating}.
{child} had {cond} and the {ooh} doctor saw us at {time}.
I [[hope]] you actually read these.
Went to the {clinic} on {wd} at {time}, queue out the door, waited {wait}.
{child:short} is {age_is} and still waiting for {salt}.
My {age_old} had {cond} and the {gp_s} said give {syrup} and see how it goes.
The {hv_s} came at {time} on {wd} for the {check} and was there for {wait}.
[[Will]] anyone actually read this? The {gp_s} is impossible to get into.
We drove from {town} to {hosp} for a {dur} wait. The {hv_team} were kind though.
There were {n} of us in {ae} from {time} till {time2} with {child}.
Samaritans on {s116} helped me more than anyone when I had {pcond}.
The [[CLINICAL:tongue tie]] clinic at {hosp} was quick but the wait to get referred was {dur}.
{child} saw {hv} on {wd} and {gp:title} on {wd2} and they said opposite things about {child:his}
  {cond}.
{hv} and {mw} are a credit to the NHS.
Didn't know whether to ring {s111} or {s999}, in the end we just drove to {ae} at {hosp}.
Nothing really, it was all fine.
Not being listened to by the {gp_s}.
Being passed from pillar to post between {svc} and {svc2}.
The {cc} shut in {month} and nothing replaced it.
The {hv_s} visits stopped after the {check}.
Conflicting advice about {formula} from the {mw_s} and the {hv_s}.
From {month} to {month2} we didn't see a single {hv_s}.
[[MEDICINE:Calpol]] and [[MEDICINE:Nurofen]] was the only advice from {s111}.
The {hv_s} was great about {formula}, no judgement.
Waited {wait} at the {utc}, gave {child} {syrup} in the car park.
Got sent from {ae} to the {utc} to the {gp_s}, {wait} in total, for {child} to be given {syrup}.
Lovely {mw_team}, shame about the food at {hosp}.
We saw {n} different people at {hosp} and nobody read the notes.
My {child:son} {child} has {cond}, {hv} was the only one who listened.
The {check} for {child} was done over the phone, how can you check a baby over the phone?
{social} groups were more help than anyone at the {gp_s}.
The {hv_s} at the {clinic} on {wd} told us to stop the {formula}.
"""


@dataclass(frozen=True)
class Token:
    kind: str  # lit, slot, keep (inline), choice
    value: str
    form: str = ""


TOKEN_RE = re.compile(
    r"\{(?P<slot>[a-zA-Z0-9_]+)(?::(?P<form>[A-Za-z]+))?\}"
    r"|\[\[(?:(?P<kkind>[A-Z_]+):)?(?P<ktext>[^\]]+)\]\]"
    r"|<(?P<choice>[^<>]*)>"
)


def parse_template(template: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    for m in TOKEN_RE.finditer(template):
        if m.start() > pos:
            tokens.append(Token("lit", template[pos : m.start()]))
        if m.group("slot"):
            tokens.append(Token("slot", m.group("slot"), m.group("form") or ""))
        elif m.group("ktext"):
            tokens.append(Token("keep", m.group("ktext"), m.group("kkind") or "WORD_NAME"))
        else:
            tokens.append(Token("choice", m.group("choice")))
        pos = m.end()
    if pos < len(template):
        tokens.append(Token("lit", template[pos:]))
    return tokens


def load_templates(block: str) -> list[str]:
    """One template a line; lines starting with spaces continue the one above."""
    templates: list[str] = []
    for line in block.splitlines():
        if not line.strip():
            continue
        if line.startswith(" ") and templates:
            templates[-1] += " " + line.strip()
        else:
            templates.append(line.strip())
    return templates


TEMPLATES = {
    "opener": load_templates(OPENERS),
    "followup": load_templates(FOLLOWUPS),
    "contact": load_templates(CONTACT),
    "signoff": load_templates(SIGNOFFS),
    "standalone": load_templates(STANDALONE),
}


def slot_base(name: str) -> str:
    """{wait2} is a second, independent wait; persons and identifiers keep their own names."""
    if name in ROLES or name in IDENTIFIER_SLOTS:
        return name
    if name in KEEP_SLOTS:  # s111, h247
        return name
    return name.rstrip("0123456789")


# --------------------------------------------------------------------------------------------
# Validation of templates (run before generating).
# --------------------------------------------------------------------------------------------

# Words of the templates that are also in a name pool but are fine as plain text.
ORDINARY_WORDS = {
    "mum", "dad", "the", "a", "i", "in", "on", "is", "and", "to", "at", "he", "she", "her",
    "ward", "hall", "green", "wood", "hill", "king", "white", "brown", "price", "grant",
    "cooper", "baker", "walker", "turner", "marsh", "nurse",
}  # fmt: skip


def literal_text(tokens: Sequence[Token]) -> str:
    parts = []
    for t in tokens:
        if t.kind == "lit":
            parts.append(t.value)
        elif t.kind == "choice":
            parts.append(" ".join(t.value.split("|")))
    return " ".join(parts)


def validate_templates() -> None:
    """Fail on unknown slots or forms, and on names or name-words in unannotated text."""
    names = all_name_keys()
    word_names = {fold(n) for b in WORD_NAMES.values() for n in words(b)}
    problems = []
    for group, templates in TEMPLATES.items():
        for template in templates:
            tokens = parse_template(template)
            for t in tokens:
                if t.kind == "slot":
                    base = slot_base(t.value)
                    if base in ROLES:
                        if t.form not in NAME_FORMS + WORD_FORMS:
                            problems.append(f"{group}: bad form {t.value}:{t.form} in {template!r}")
                    elif base in IDENTIFIER_SLOTS or base == "svc" or base in KEEP_SLOTS:
                        if t.form:
                            problems.append(f"{group}: no forms on {t.value} in {template!r}")
                    else:
                        problems.append(f"{group}: unknown slot {t.value} in {template!r}")
                elif t.kind == "keep" and t.form not in KEEP_KINDS:
                    problems.append(f"{group}: bad keep kind {t.form} in {template!r}")
            for word in re.findall(r"[A-Za-z']+", literal_text(tokens)):
                key = fold(word).strip("'")
                if key in word_names:
                    problems.append(f"{group}: name-word {word!r} not marked [[ ]] in {template!r}")
                elif key in names and key not in ORDINARY_WORDS:
                    problems.append(f"{group}: name {word!r} in plain text of {template!r}")
    if problems:
        raise SystemExit("template problems:\n" + "\n".join(problems))


# --------------------------------------------------------------------------------------------
# Messages and conversations.
# --------------------------------------------------------------------------------------------


@dataclass
class Conversation:
    rng: random.Random
    style: Style
    cast: dict[str, Person]
    ids: Identifiers


def render_template(template: str, conv: Conversation) -> list[Piece]:
    """Pieces for one message; a slot repeated in a template gets the same value."""
    rng, style = conv.rng, conv.style
    pieces: list[Piece] = []
    chosen: dict[tuple[str, str], list[Piece]] = {}
    for token in parse_template(template):
        if token.kind == "lit":
            pieces.append(lit(token.value))
        elif token.kind == "choice":
            pieces.append(lit(rng.choice(token.value.split("|"))))
        elif token.kind == "keep":
            text = token.value if style.formal else token.value.lower()
            pieces.append(keep(text, token.form))
        else:
            key = (token.value, token.form)
            if key not in chosen:
                chosen[key] = render_slot(token.value, token.form, conv)
            pieces.extend(
                Piece(p.text, p.kind, p.label, p.role, dict(p.extra)) for p in chosen[key]
            )
    return pieces


def render_slot(name: str, form: str, conv: Conversation) -> list[Piece]:
    rng, style = conv.rng, conv.style
    base = slot_base(name)
    if base in ROLES:
        return render_person(conv.cast[base], form, style, rng)
    if base in IDENTIFIER_SLOTS:
        return render_identifier(base, conv.ids, style, rng)
    if base == "svc":
        text, article = rng.choice(GENERIC_SERVICES)
        if not style.formal and rng.random() < 0.8:
            text = text.lower().replace("'", style.apostrophe)
        return ([lit("the ")] if article else []) + [keep(text, "SERVICE")]
    slot = KEEP_SLOTS[base]
    return [keep(render_keep(slot, style, rng), slot.kind)]


def finish_pieces(pieces: list[Piece], conv: Conversation, last: bool) -> list[Piece]:
    """Apply the style to literal text, tidy spaces, and add the odd emoji or capital."""
    rng, style = conv.rng, conv.style
    merged: list[Piece] = []
    for p in pieces:
        if p.kind == "lit" and merged and merged[-1].kind == "lit":
            merged[-1].text += p.text
        else:
            merged.append(p)
    for p in merged:
        if p.kind == "lit":
            p.text = re.sub(r"\s+", " ", transform_literal(p.text, style, rng))
            p.text = re.sub(r" ([,.!?])", r"\1", p.text)
    if merged and merged[0].kind == "lit":
        merged[0].text = merged[0].text.lstrip()
    if merged and merged[-1].kind == "lit":
        merged[-1].text = merged[-1].text.rstrip()
    merged = [p for p in merged if p.text]
    if style.emoji and rng.random() < style.emoji:
        merged.append(lit(" " + rng.choice(EMOJI)))
    if last and not style.formal and rng.random() < 0.08:
        merged.append(lit(rng.choice([" x", " xx", " thanks"])))
    if style.autocap and merged:
        merged[0].text = merged[0].text[:1].upper() + merged[0].text[1:]
    if style.shout:
        for p in merged:
            p.text = p.text.upper()
    return merged


def to_record(pieces: list[Piece], split: str, conv_id: str, index: int) -> Record:
    text = ""
    entities: list[Record] = []
    keeps: list[Record] = []
    for p in pieces:
        start, text = len(text), text + p.text
        if p.kind == "ent":
            e: Record = {"type": p.label}
            if p.role:
                e["role"] = p.role
            e |= {"start": start, "end": len(text), "text": p.text} | p.extra
            entities.append(e)
        elif p.kind == "keep":
            keeps.append({"kind": p.label, "start": start, "end": len(text), "text": p.text})
    return {
        "id": f"{conv_id}-m{index}",
        "split": split,
        "conversation": conv_id,
        "text": text,
        "entities": entities,
        "keep": keeps,
    }


def plan_conversation(rng: random.Random, n_messages: int) -> list[str]:
    """Template groups for each message of a conversation."""
    if n_messages == 1:
        return [rng.choices(["opener", "standalone", "contact"], [40, 30, 30])[0]]
    plan = ["opener"]
    for _ in range(n_messages - 2):
        plan.append("contact" if rng.random() < 0.5 else "followup")
    plan.append(rng.choices(["followup", "contact", "signoff"], [35, 42, 23])[0])
    return plan


IDENTIFIER_TYPES = {
    "PHONE": ("mob", "mob2", "tel", "phone"),
    "NHS_NUMBER": ("nhs", "nhs2", "nhs_me"),
    "NHS_BAD": ("nhs_bad",),  # a mistyped NHS number: check digit wrong
    "EMAIL": ("email", "email2", "email_old"),
    "POSTCODE": ("pc", "out"),
    "ADDRESS": ("addr",),
    "DATE": ("dob", "dob2", "dobc", "dob_me", "due"),
    "NI_NUMBER": ("ni", "ni2"),
    "URL": ("url", "url2"),
}
# Wanted share of identifiers per type: contact templates for the type furthest behind are
# preferred, so every type is well represented whatever the template mix.
IDENTIFIER_TARGETS = {etype: 2.0 for etype in IDENTIFIER_TYPES}
IDENTIFIER_TARGETS |= {"NI_NUMBER": 1.0, "URL": 1.0, "NHS_BAD": 0.4}


def tally_key(entity: Record) -> str:
    return "NHS_BAD" if entity.get("checksum_valid") is False else entity["type"]


def identifier_types(template: str) -> set[str]:
    slots = {t.value for t in parse_template(template) if t.kind == "slot"}
    return {etype for etype, names in IDENTIFIER_TYPES.items() if slots & set(names)}


def choose_template(rng: random.Random, group: str, used: set[str], tally: Counter[str]) -> str:
    candidates = [t for t in TEMPLATES[group] if t not in used]
    if group == "contact" and rng.random() < 0.75:
        neediest = min(sorted(IDENTIFIER_TARGETS), key=lambda t: tally[t] / IDENTIFIER_TARGETS[t])
        preferred = [t for t in candidates if neediest in identifier_types(t)]
        candidates = preferred or candidates
    return rng.choice(candidates)


def make_conversation(
    rng: random.Random,
    pools: NamePools,
    split: str,
    conv_id: str,
    n_messages: int,
    tally: Counter[str],
) -> list[Record]:
    """One conversation; `tally` counts the split's entities so far, by type."""
    cast = make_cast(rng, pools)
    conv = Conversation(rng, make_style(rng), cast, make_identifiers(rng, cast))
    used: set[str] = set()
    records = []
    plan = plan_conversation(rng, n_messages)
    for i, group in enumerate(plan, start=1):
        template = choose_template(rng, group, used, tally)
        used.add(template)
        pieces = finish_pieces(render_template(template, conv), conv, last=i == len(plan))
        record = to_record(pieces, split, conv_id, i)
        tally.update(tally_key(e) for e in record["entities"])
        records.append(record)
    return records


def conversation_length(rng: random.Random) -> int:
    return rng.choices([1, 2, 3, 4], [40, 26, 20, 14])[0]


def generate_split(split: str) -> list[Record]:
    rng = random.Random(SEED + SPLITS.index(split))
    pools = build_pools(split)
    records: list[Record] = []
    tally: Counter[str] = Counter()
    n_conv = 0
    while len(records) < MESSAGES_PER_SPLIT:
        n_conv += 1
        n = min(conversation_length(rng), MESSAGES_PER_SPLIT - len(records))
        records += make_conversation(rng, pools, split, f"{split}-c{n_conv:04d}", n, tally)
    return records


# --------------------------------------------------------------------------------------------
# Checks on the output.
# --------------------------------------------------------------------------------------------

PHONE_RANGES = [("07700900", 3)] + [(area + prefix, n) for area, prefix, n in LANDLINE_RANGES]
NI_RE = re.compile(r"^([A-Z]{2}) ?(\d\d) ?(\d\d) ?(\d\d) ?([A-D])$|^([A-Z]{2}) ?(\d{6}) ?([A-D])$")
POSTCODE_RE = re.compile(r"^[A-Z]{1,2}\d[A-Z\d]?( ?\d[ABD-HJLNP-UW-Z]{2})?$")


def phone_is_fictional(text: str) -> bool:
    digits = re.sub(r"\D", "", text)
    if digits.startswith("0044"):
        digits = digits[4:]
    elif digits.startswith("44"):
        digits = digits[2:]
    digits = "0" + digits.lstrip("0")
    return any(digits.startswith(p) and len(digits) == len(p) + n for p, n in PHONE_RANGES)


def check_entity(e: Record, half_vocab: set[str]) -> str | None:
    """A reason the entity is malformed, or None."""
    text, etype = str(e["text"]), e["type"]
    if text != text.strip() or not text:
        return "untrimmed"
    if etype == "PERSON":
        for token in fold(text).split():
            if token not in half_vocab and not all(p in half_vocab for p in token.split("-")):
                return f"name {token!r} is not from this split's half"
    elif etype == "PHONE" and not phone_is_fictional(text):
        return "not an Ofcom drama number"
    elif etype == "NHS_NUMBER":
        digits = re.sub(r"\D", "", text)
        valid = len(digits) == 10 and nhs_check_digit(digits[:9]) == int(digits[9])
        if valid != e.get("checksum_valid", True) or not digits.startswith("999"):
            return "check digit does not match checksum_valid"
    elif etype == "NI_NUMBER":
        m = NI_RE.match(text.upper())
        prefix = (m.group(1) or m.group(6)) if m else ""
        ok = (
            len(prefix) == 2
            and prefix[0] in NI_LETTERS_1
            and prefix[1] in NI_LETTERS_2
            and prefix not in NI_BAD_PREFIXES
        )
        if not ok:
            return "bad NI number"
    elif etype == "POSTCODE" and not POSTCODE_RE.match(text.upper()):
        return "bad postcode"
    elif etype == "EMAIL" and not ("@" in text or " at " in text.lower()):
        return "bad email"
    return None


def validate_records(records: list[Record], split: str) -> None:
    vocab = build_pools(split).vocabulary()
    problems = []
    for r in records:
        text = str(r["text"])
        if text != " ".join(text.split()):
            problems.append(f"{r['id']}: stray whitespace in {text!r}")
        spans = []
        for item in [*r["entities"], *r["keep"]]:
            if text[item["start"] : item["end"]] != item["text"]:
                problems.append(f"{r['id']}: offsets do not give {item['text']!r}")
            spans.append((item["start"], item["end"], item["text"]))
        spans.sort()
        for (_, e1, t1), (s2, _, t2) in zip(spans, spans[1:], strict=False):
            if s2 < e1:
                problems.append(f"{r['id']}: {t1!r} overlaps {t2!r}")
        for e in r["entities"]:
            reason = check_entity(e, vocab)
            if reason:
                problems.append(f"{r['id']}: {e['type']} {e['text']!r}: {reason}")
    if problems:
        raise SystemExit("generated cases are wrong:\n" + "\n".join(problems[:50]))


def check_minimums(records: list[Record], split: str) -> None:
    entity_counts = Counter(e["type"] for r in records for e in r["entities"])
    keep_count = sum(len(r["keep"]) for r in records)
    short = []
    if entity_counts["PERSON"] < MIN_PERSON:
        short.append(f"PERSON {entity_counts['PERSON']} < {MIN_PERSON}")
    for etype, minimum in MIN_STRUCTURED.items():
        if entity_counts[etype] < minimum:
            short.append(f"{etype} {entity_counts[etype]} < {minimum}")
    valid_nhs = sum(
        1
        for r in records
        for e in r["entities"]
        if e["type"] == "NHS_NUMBER" and e.get("checksum_valid", True)
    )
    if valid_nhs < MIN_STRUCTURED["NHS_NUMBER"]:
        short.append(f"valid NHS_NUMBER {valid_nhs} < {MIN_STRUCTURED['NHS_NUMBER']}")
    if keep_count < MIN_KEEP:
        short.append(f"keep {keep_count} < {MIN_KEEP}")
    if short:
        raise SystemExit(f"{split} split is too small: " + ", ".join(short))


def generate() -> list[Record]:
    validate_templates()
    records: list[Record] = []
    for split in SPLITS:
        split_records = generate_split(split)
        validate_records(split_records, split)
        check_minimums(split_records, split)
        records += split_records
    return records


def dumps(records: Iterable[Record]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


# --------------------------------------------------------------------------------------------
# Summary table.
# --------------------------------------------------------------------------------------------


def stats_rows(records: list[Record]) -> list[tuple[str, Counter[str]]]:
    """(label, count per split) for the summary table."""
    rows: dict[str, Counter[str]] = {}

    def add(label: str, split: str, n: int = 1) -> None:
        rows.setdefault(label, Counter())[split] += n

    messages_per_conversation: Counter[tuple[str, str]] = Counter()
    for r in records:
        split = r["split"]
        add("messages", split)
        add("messages with no entity", split, int(not r["entities"]))
        messages_per_conversation[split, r["conversation"]] += 1
        for e in r["entities"]:
            add(f"entity {e['type']}", split)
            if e["type"] == "PERSON":
                add(f"  PERSON role {e['role']}", split)
            if e.get("checksum_valid") is False:
                add("  NHS_NUMBER, bad check digit", split)
        for k in r["keep"]:
            add("keep (all kinds)", split)
            add(f"keep {k['kind']}", split)
    for (split, _), n in messages_per_conversation.items():
        add("conversations", split)
        add("  with 2-4 messages", split, int(n > 1))
    order = ["messages", "conversations", "  with 2-4 messages", "messages with no entity"]
    for etype in ENTITY_TYPES:
        order.append(f"entity {etype}")
        if etype == "PERSON":
            order += [f"  PERSON role {role}" for role in PERSON_ROLES]
        if etype == "NHS_NUMBER":
            order.append("  NHS_NUMBER, bad check digit")
    order += ["keep (all kinds)"] + [f"keep {kind}" for kind in KEEP_KINDS]
    return [(label, rows.get(label, Counter())) for label in order]


def print_stats(records: list[Record]) -> None:
    print(f"{'':36}" + "".join(f"{s:>8}" for s in SPLITS))
    for label, counts in stats_rows(records):
        print(f"{label:36}" + "".join(f"{counts.get(s, 0):>8}" for s in SPLITS))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the cases")
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if --out differs from a fresh generation"
    )
    parser.add_argument("--stats", action="store_true", help="print counts per type and split")
    args = parser.parse_args(argv)
    records = generate()
    content = dumps(records)
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else None
        if current != content:
            print(
                f"{args.out} is out of date with generate.py; "
                f"run: python eval/redact/generate.py --out {args.out}",
                file=sys.stderr,
            )
            return 1
        print(f"{args.out} is up to date ({len(records)} messages)")
    else:
        args.out.write_text(content, encoding="utf-8")
        print(f"wrote {len(records)} messages to {args.out}")
    if args.stats:
        print_stats(records)
    return 0


if __name__ == "__main__":
    sys.exit(main())
