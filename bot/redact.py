"""Layered, deterministic redaction of personal data from parents' messages.

Rasa and storage only ever see the output of this module. Recall matters more than precision: a
parent's name left in a stored transcript is a breach, an over-redacted word is a small loss.

Layers, run on the raw text held in memory:

1. structured identifiers by pattern: emails, NHS numbers (mod-11 checked, or any 10 digits near
   the word "nhs"), UK phone numbers, postcodes, dates tied to a birth or death, street addresses;
2. person names from context cues ("my son is X", "nurse X", "X's mum", "i'm X", "called X"),
   a built-in gazetteer of first names and surnames, and "first name + surname" extension;
3. later mentions: any token matching a name seen earlier in the conversation, recognised by its
   keyed digest, so "zayn loved it" is caught after "my son is Zayn" with no cue at all.

Overlapping findings are resolved by type rank (an email beats the name inside it; an address
beats the first name in "12 Oliver Road"), then by length. Placeholders are ``[TYPE_N]``, numbered
per type per conversation; ``RedactionState`` carries the numbering between messages and holds only
HMAC digests of normalised values, never the values themselves.

Everything is regular expressions and set look-ups compiled at import: no models, no network.
"""

from __future__ import annotations

import contextvars
import hmac
import json
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from importlib import resources
from typing import Any

__all__ = ["ENTITY_TYPES", "Entity", "Redaction", "RedactionState", "Redactor", "redact_stream"]

ENTITY_TYPES = (
    "PERSON", "PHONE", "NHS_NUMBER", "EMAIL", "POSTCODE", "DATE", "ADDRESS", "NI_NUMBER", "URL",
)  # fmt: skip
# A person's placeholder says who they are, so staff can still read the feedback: the child, a
# member of staff, or anyone else ("[CHILD_1] was seen by [STAFF_1]").
PERSON_ROLES = ("CHILD", "STAFF", "PERSON")
_PLACEHOLDER_KINDS = PERSON_ROLES + ENTITY_TYPES[1:]


@dataclass(frozen=True)
class Entity:
    """One redacted span: its type, the placeholder that replaced it, offsets into the original.

    Names have type ``PERSON``; their placeholder carries the role (``[CHILD_1]``, ``[STAFF_1]``,
    ``[PERSON_1]``).
    """

    type: str
    placeholder: str
    start: int
    end: int


@dataclass(frozen=True)
class Redaction:
    """The redacted text and what was taken out of it, in text order."""

    text: str
    entities: tuple[Entity, ...]


# --------------------------------------------------------------------------------------------------
# Per-conversation state
# --------------------------------------------------------------------------------------------------

_STATE_VERSION = 1
_DIGEST_HEX_CHARS = 32  # 128 bits of HMAC-SHA256: ample against collisions, half the storage
_DIGEST_RE = re.compile(r"[0-9a-f]{32}")
_PLACEHOLDER_RE = re.compile(rf"\[(?:{'|'.join(_PLACEHOLDER_KINDS)})_[1-9]\d*\]")


class RedactionState:
    """Per-conversation memory so placeholders stay consistent across messages.

    Holds only keyed HMAC digests of normalised values (never raw values) and per-type counters.
    ``values`` maps the digest of (type, value) to its placeholder; ``names`` maps the digest of
    each single name token (first name, surname) to the placeholder of the person it belongs to,
    which is what lets a bare later mention be recognised.
    """

    def __init__(self) -> None:
        self._counters: dict[str, int] = {}
        self._values: dict[str, str] = {}
        self._names: dict[str, str] = {}

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-serialisable snapshot (digests, placeholders and counters only)."""
        return {
            "version": _STATE_VERSION,
            "counters": dict(sorted(self._counters.items())),
            "values": dict(self._values),
            "names": dict(self._names),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> RedactionState:
        """Rebuild a state saved with ``to_json``; ``None`` or ``{}`` gives a fresh state.

        Raises ``ValueError`` if the snapshot is malformed: silently starting afresh would reuse
        placeholder numbers already given to other people in the same conversation.
        """
        state = cls()
        if data is None or data == {}:
            return state
        if not isinstance(data, dict) or data.get("version") != _STATE_VERSION:
            raise ValueError("redaction state: unknown or missing version")
        counters = data.get("counters", {})
        if not isinstance(counters, dict):
            raise ValueError("redaction state: 'counters' must be an object")
        for kind, count in counters.items():
            if kind not in _PLACEHOLDER_KINDS or not isinstance(count, int) or count < 0:
                raise ValueError(f"redaction state: bad counter {kind!r}")
            state._counters[kind] = count
        for section in ("values", "names"):
            mapping = data.get(section, {})
            if not isinstance(mapping, dict):
                raise ValueError(f"redaction state: {section!r} must be an object")
            target = state._values if section == "values" else state._names
            for digest, placeholder in mapping.items():
                if not isinstance(digest, str) or not _DIGEST_RE.fullmatch(digest):
                    raise ValueError(f"redaction state: bad digest in {section!r}")
                if not isinstance(placeholder, str) or not _PLACEHOLDER_RE.fullmatch(placeholder):
                    raise ValueError(f"redaction state: bad placeholder in {section!r}")
                target[digest] = placeholder
        return state

    def _new_placeholder(self, kind: str) -> str:
        count = self._counters.get(kind, 0) + 1
        self._counters[kind] = count
        return f"[{kind}_{count}]"


# --------------------------------------------------------------------------------------------------
# Word lists. All lowercase. Written for this module; deliberately small enough to read.
# --------------------------------------------------------------------------------------------------


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Unambiguous first names: redacted wherever they appear (outside hospital/ward names).
_FIRST_NAMES = _words(
    """
    oliver george harry jack noah leo arthur oscar charlie freddie freddy alfie theo theodore
    thomas james william henry archie joshua jacob ethan isaac alexander edward lucas luca samuel
    joseph daniel benjamin logan mason harrison dylan riley tommy finley finn louie reggie ronnie
    albert frankie stanley sonny jude elijah hugo rory sebastian seb toby tyler callum connor
    conor kieran liam sean ciaran cian declan niall oisin padraig eoin darragh cormac aidan
    brendan ronan michael david john paul peter andrew stephen steven christopher chris matthew
    richard robert kevin gary craig darren wayne jason jamie ryan adam luke nathan aaron kyle
    scott dean shane carl ian neil gareth rhys dafydd owen evan ioan iwan gethin emrys alistair
    angus hamish fraser euan ewan calum ruaridh jake joe joel zac zachary harvey elliot elliott
    louis felix ralph rupert hector jasper kai ollie olly alex ben sam tom dan danny tony terry
    barry keith graham colin brian derek trevor nigel malcolm martin simon philip phil tim
    timothy jonathan jon nathaniel gabriel elias ezra leon marcus reuben caleb jenson bobby
    billy jimmy johnny charles frederick fred ted ned jed alfred ernest harold wilfred bob
    teddie jayden jaden aiden brandon bradley jordan kian cameron lewis ross jay lee ashley
    austin rowan ellis tobias matthias nicholas nico

    olivia amelia isla ava mia ivy lily isabella rosie sophia willow freya florence emily ella
    poppy evie elsie charlotte evelyn sienna sofia daisy phoebe sophie alice harper matilda
    ruby emilia maya millie isabelle eva luna imogen esme ellie scarlett chloe zoe lucy jessica
    jess hannah holly katie emma amy laura rebecca becky sarah rachel hayley gemma kirsty
    claire clare nicola nicky lisa julie karen tracy tracey donna michelle kelly stacey leanne
    lauren megan bethany beth abigail abbie abby molly niamh aoife ciara saoirse siobhan sinead
    roisin orla aisling caoimhe grainne maeve mairead bronagh clodagh eimear fiona mhairi ailsa
    eilidh catriona morag sian cerys ffion seren carys nia bethan lowri rhiannon angharad elin
    mari gwen jennifer jenny elizabeth liz lizzie victoria vicky natalie samantha helen joanne
    jo louise catherine kate katherine kathryn anna hanna maria mary margaret susan linda
    patricia deborah debbie amanda alison jacqueline jackie wendy denise sharon paula elaine
    maureen janet carol angela caroline charlene kayleigh courtney shannon jade leah aimee
    zara layla lila lola ada aria nancy violet thea penelope hallie mabel edith elodie darcie
    darcy gracie annie lottie bella harriet eleanor ellen heidi robyn alexandra caitlin
    kaitlyn paige tia keira kiera georgia madison jasmine jasmin heather esther naomi ruth
    miriam abigail eden ivie nova aurora lyla ayla orla arabella beatrice clara cora rosa
    rosalie josephine josie amelie mila maisie maisy lacey lexi lexie tilly hollie

    muhammad mohammed mohammad mohamed muhammed mohamud ahmed ahmad ali hassan hussain hussein
    omar umar usman uthman bilal ibrahim yusuf yousuf yousef youssef ismail ismael zayn zain
    zayd zaid ayaan aryan arjun rohan rahul vikram raj ravi sanjay amit anil sunil deepak ajay
    vijay krishna arun aarav vihaan reyansh ishaan kabir dev harjit gurpreet harpreet jaspreet
    manpreet simran navdeep amandeep kuldeep rajinder baljit sukhwinder jaspal gurdeep mandeep
    sandeep pardeep ranjit jasvinder kulwinder manjit parminder priya pooja anjali sunita anita
    kavita neha divya shreya aditi ananya diya saanvi kiran meera nisha asha lakshmi sita rani
    parveen nazia nadia shazia samina rubina farah fatima fatimah ayesha aisha aishah maryam
    mariam zainab khadija khadijah amina aminah hafsa hafsah safiya sumaya sumayyah sumaiya
    hira iqra anum sana sara saira nasreen yasmin yasmeen imran irfan asif tariq tahir zahid
    shahid khalid rashid faisal nadeem naveed waqas kamran adnan arif javed junaid hamza hamzah
    zakariya zakaria idris haroon harun ayub musa rayyan rayan ayan arham azaan eesa ehsan
    ihsan rizwan salman sohail suleman sulaiman abdul abdullah abdur rahim rahman rehman aziz
    nasir anwar akbar jamal karim kareem samir sameer amir amira amirah noor nur inaya inaaya
    alina aleena anaya eshal haniya hania zahra zoya mehreen mehwish bushra rabia sadia
    shabana shamima ruksana rukhsana taslima nasima hasina sultana roksana habib shafiq
    mizanur shahana tasnim tahmina mahir tahmid yahya

    oksana olena olga natalia natasha tatiana svetlana irina iryna yulia julia kateryna
    katarzyna kasia agnieszka magdalena magda malgorzata joanna aleksandra ola zuzanna zofia
    maja wiktoria weronika oliwia lena dominika paulina monika karolina ewa marta anastasia
    anastasiia daria dariia sofiia viktoriia polina ivanka bogdana kacper jakub szymon filip
    mateusz bartosz michal piotr pawel tomasz krzysztof marcin lukasz wojciech kamil dawid
    adrian patryk damian maciej oskar antoni franciszek stanislaw wiktor igor dmytro oleksandr
    oleksii andriy andrii serhii sergei sergey mykola volodymyr vladimir yuri yurii taras
    bohdan maksym maxim artem nikita ivan nikolai dimitri aleksander andrei andrej marek pavel
    andreea ioana elena alexandru ionut stefan mihai gabriela cristina florin bogdan raluca
    adriana denisa jonas lukas gintare ruta georgi dimitar ivana

    chidi chidera chiamaka chinedu chioma chinonso chukwuemeka emeka obinna ngozi nkechi
    adaeze amara amarachi ifeoma ikenna kelechi uche uchenna nnamdi oluwaseun seun damilola
    dami tunde babatunde ade adebayo adewale ayodele ayo bolaji funmilayo funmi folake olumide
    temitope tope tolu toluwani yetunde kemi bisi segun femi kunle jide dayo tobi tobiloba
    simi feyisara kehinde taiwo idowu abimbola abiodun kwame kwabena kofi kojo kwaku yaw
    akosua abena efua esi adwoa kwasi amani imani baraka juma zawadi wanjiru wambui njeri
    achieng akinyi aminata fatou fatoumata mamadou moussa ousmane abdoulaye ibrahima aissatou
    binta oumar sekou lamin halima hawa amadou tendai tatenda farai tafadzwa rutendo nyasha
    chipo tsitsi thabo sipho themba lerato naledi zanele nomvula thandiwe thandi lindiwe
    abeba selam dawit tesfaye yonas meron semhar mahlet hodan hibo ifrah farhiya fadumo faduma
    sahra hamdi deeqa abdirahman abdirahim abdiaziz abdullahi liban guled hamse abdi jabari
    ayana

    khaled khalil mahmoud mustafa mostafa hamid hamad saeed salim salem tarek tariq walid
    waleed yasir yasser ziad ziyad adel faris hadi hani haytham jamil majid marwan nabil
    rami sami tamer wael yazan abdulrahman abdallah laila leila lina dina rania rana reem rima
    salma samira yara yasmina zeinab hala hiba huda jana jumana lamia lubna mai malak manal
    mona nour nawal noura rahaf rawan ruba sahar samar shahd tala wafa dalia ghada hanan amal
    basma duaa eman ghazal hajar joud lujain maha marwa nisreen razan sidra widad

    jose juan carlos luis diego lucia mateo santiago valentina camila ana pedro joao tiago
    beatriz ines francesca giulia giuseppe marco matteo alessandro chiara mei ling hiro yuki
    kenji
    """
)

# Words that are names only when context says so ("my daughter grace", "nurse will").
_AMBIGUOUS_NAMES = _words(
    """
    hope will rose grace may faith joy bill mark april june august summer autumn amber dawn
    sky river rich frank pat sue max nick ray don rob guy miles jan ed al eve art sunny star
    storm angel precious blessing favour gift mercy patience comfort victory destiny harmony
    melody honey teddy penny chase hunter robin iris olive hazel india paris sydney chelsea
    brooklyn reed wren sage iman nada isa sham asma dee kit mo val sandy rocky king prince
    princess heaven lucky pearl crystal ebony coco cherry
    """
)

# Surnames: accepted after a first name or a title even when typed in lowercase.
_SURNAMES = _words(
    """
    smith jones williams taylor brown davies davis evans wilson thomas roberts johnson lewis
    ward baker grant green black wood hill king cook bell ford price page long fox moon young
    walker robinson thompson white watson jackson wright harris cooper martin clarke clark
    james morgan hughes edwards moore turner parker hall young phillips patel khan shah begum
    akhtar hussain ahmed ali singh kaur sharma gupta kumar das mistry chauhan choudhury
    chowdhury rahman islam uddin miah bibi iqbal malik mahmood qureshi siddiqui sheikh mirza
    nawaz aslam anwar gill sandhu sidhu dhillon bains johal sahota grewal nowak kowalski
    kowalska wisniewski wojcik kaminski lewandowski zielinski szymanski kozlov ivanova ivanov
    petrov shevchenko kovalenko bondarenko tkachenko melnyk popescu ionescu okafor okonkwo
    adeyemi adebayo okoro eze nwosu obi mensah owusu boateng asante osei addo appiah mohamud
    farah abdi warsame murphy kelly o'brien obrien o'neill oneill ryan byrne doyle walsh
    mccarthy gallagher mcdonald macdonald campbell stewart anderson scott murray reid ross
    fraser morrison robertson mackenzie paterson graham hamilton sutherland mcleod griffiths
    rees jenkins price owen lloyd powell morris rogers bennett mitchell carter collins shaw
    holmes ellis chapman mason marshall knight simpson webb dixon palmer gray grey foster
    barker butler russell lawrence richardson stevens atkinson cox bailey adams kennedy gordon
    sanders reynolds spencer pearson harvey hussein rashid nguyen tran chen wang zhang li liu
    kowalczyk novak horvat dimitrov georgiev papadopoulos o'connor oconnor o'sullivan
    osullivan fitzgerald quinn mcgrath
    """
)

# Common words never taken for a name however they are capitalised, plus the allow-listed terms.
_COMMON_WORDS = _words(
    """
    a an the and or but if so as at by for from in into of off on onto out over to up with
    without about above after again against all am any are around because before being below
    between both down during each few further here how just more most no nor not now only other
    our ours ourselves own same she he her hers herself him himself his i me my myself it its
    itself we us they them their theirs themselves you your yours yourself yourselves that this
    these those there then than too very what which who whom whose why when where while was
    were be been is has have had having do does did doing done can could should would shall
    might must ought also still even ever never always often sometimes usually already yet soon
    later today tonight tomorrow yesterday i'm im ive i've id i'd i'll youre you're youve
    you've weve we've we're were they're theyre they've dont don't didnt didn't doesnt doesn't
    cant can't couldnt couldn't wont won't wouldnt wouldn't shouldnt shouldn't isnt isn't wasnt
    wasn't arent aren't werent weren't havent haven't hasnt hasn't hadnt hadn't thats whats
    theres lets hes shes u ur r y ya yo oh ah um er eh hmm yes yeah yep yup no nope nah ok
    okay okey alright thanks thank thankyou thx ta cheers please pls plz sorry soz lol omg
    haha x xx xxx hi hello hey hiya dear bye goodbye well anyway tbh btw idk imo fyi etc
    really quite pretty bit lot lots much many some any every either neither none nothing
    something anything everything someone somebody anyone anybody everyone everybody nobody
    noone one ones two three four five six seven eight nine ten eleven twelve twenty hundred
    first second third fourth fifth last next another half both twice once enough less least
    get gets got getting gotten go goes going gone went come comes coming came see sees seeing
    saw seen say says saying said tell tells telling told ask asks asking asked know knows
    knowing knew known think thinks thinking thought feel feels feeling felt make makes making
    made take takes taking took taken give gives giving gave given find finds found keep keeps
    kept let leave leaves left put puts bring brings brought call calls calling called phone
    phoned ring rang rung text texted texting email emailed need needs needed want wants wanted
    try tries tried trying help helps helped helping look looks looked looking seem seems
    seemed work works worked working wait waits waited waiting sleep sleeps slept sleeping eat
    eats ate eating feed feeds fed feeding cry cries cried crying play plays played playing
    stay stays stayed staying talk talks talked talking speak speaks spoke spoken listen
    listens listened hear hears heard explain explained understand understood love loves loved
    loving like likes liked hate hated enjoy enjoyed wish worry worried worrying check checks
    checked checking visit visits visited visiting book booked send sends sent refer refers
    referred move moved live lives lived living turn turns turned start started stop stopped
    happen happened change changed use used show showed shown weigh weighed measure measured
    sort sorted mean means meant deal dealt cope coped manage managed struggle struggled
    struggling sit sat stand stood run ran walk walked born arrive arrived discharge discharged
    admit admitted treat treated reckon reckons guess suppose hoping hoped wishing cos cause
    because though although however maybe perhaps probably definitely actually basically
    literally honestly totally completely absolutely especially exactly finally eventually
    recently currently apparently obviously luckily unfortunately hopefully thankfully
    good great fine lovely nice kind helpful unhelpful amazing brilliant fantastic excellent
    awful terrible horrible bad poor rude happy sad tired exhausted upset angry cross scared
    frightened worried anxious nervous stressed unwell ill sick poorly better worse best worst
    new old young little small big tiny huge long short hard easy quick slow fast late early
    busy quiet calm sure glad grateful thankful ready able unable autistic disabled deaf blind
    premature prem asleep awake teething hungry full healthy normal different whole real right
    wrong clear confused lost alone own fed up down low high top bottom proper safe unsafe
    difficult simple important serious urgent sorry fab super cool brill gutted devastated
    relieved shocked surprised disappointed frustrated annoyed impressed pleased delighted
    british english scottish welsh irish polish ukrainian romanian indian pakistani
    bangladeshi nigerian ghanaian somali african asian european black white mixed muslim
    christian jewish single pregnant breastfeeding formula
    son sons daughter daughters baby babies boy boys girl girls child children kid kids
    toddler twin twins partner husband wife hubby mum mums mom mam mummy mother dad dads daddy
    father parent parents family nan nana nanna nanny gran granny grandma grandad grandpa
    brother sister auntie aunty aunt uncle cousin friend friends people person man woman lady
    men women ladies gentleman guys lad lads lass carer carers
    time times day days week weeks month months year years hour hours minute minutes min mins
    second seconds night nights morning mornings afternoon evening weekend weekends ago
    monday tuesday wednesday thursday friday saturday sunday mon tue tues wed thu thur thurs
    fri sat sun january february march july september october november december feb mar apr
    aug sep sept oct nov dec christmas easter
    doctor doctors dr drs gp gps nurse nurses midwife midwives hv hvs visitor visitors
    consultant consultants paediatrician registrar surgeon receptionist receptionists
    reception staff team teams service services hospital hospitals ward wards clinic clinics
    surgery surgeries practice appointment appointments appt appts referral referrals letter
    letters calls number numbers message messages chat bot form forms app website online video
    checkup review assessment test tests scan scans result results medicine medicines
    medication meds prescription antibiotics calpol nurofen bottle bottles milk feeds weight
    height jab jabs vaccine vaccines vaccination vaccinations immunisation immunisations
    injection blood ambulance paramedic paramedics nhs camhs nicu scbu picu ae school schools
    nursery health care support advice information info feedback experience problem problems
    issue issues question questions answer answers home house room car bus train taxi parking
    waiting list area rash fever temperature cough cold flu covid infection pain ear eyes eye
    chest tummy stomach head skin teeth tooth reflux colic asthma eczema allergy allergies
    sleep birth labour delivery section c-section operation op treatment diagnosis condition
    therapy speech language physio social worker workers visit visits call phone email
    texts mr mrs ms mx miss prof professor sister matron sw mw dn sn hca practitioner
    sonographer sir madam lady dear
    seriously properly literally hospitalised weekly daily monthly everyday anyway anyways
    ridiculous rubbish shocking disgusting appalling unacceptable fair unfair useless pointless
    wonderful perfect incredible reassuring supportive caring patient understanding friendly
    welcoming professional unprofessional dismissive rushed thorough slowly quickly always
    thing things stuff way ways bit bits place places part parts end start lots loads
    name names surname nickname autism autistic adhd asd sen send ehcp nonverbal non-verbal
    verbal delay delayed needs diagnosed back round away through straight immediately forward
    ahead along together apart aside earlier instead else otherwise almost nearly due under
    behind since until till unless whether across beside besides beyond inside outside within
    upon via per among unlike towards toward age aged aswell tho whos whose lunch breakfast
    dinner tea nap naps bedtime class lessons church mosque temple catholic hindu sikh
    buddhist drank drink drinks threw throw fell fall broke break hit hurt cut woke wake grew
    grow began begin wore wear won lose forgot forget caught catch fought fight taught teach
    bought buy sold sell spent spend held hold met meet paid pay read ride rode spat spit
    swallow bite bit kick kicked scream screamed vomit vomited sick specialist specialists
    lead manager assistant advisor adviser prescriber unit units led station hub line
    helpline rota cover shift triage drop crew session sessions input plan london leeds
    manchester birmingham bradford sheffield liverpool bristol newcastle cardiff swansea
    glasgow edinburgh belfast nottingham leicester coventry hull york wakefield huddersfield
    halifax oldham bolton wigan salford stockport derby luton reading slough non
    """
)

# Kept whatever the name layers think: services staff must be able to act on, and hospitals and
# services whose names contain a first name ("the Rosie", "Alder Hey", "Jenny Lind"). Hospitals
# named "St X's" or "X Hospital" are recognised by shape, in ``_is_place_name``.
_ALLOWLIST_RE = re.compile(
    r"\b(?:gps?|a\s*&\s*e|a\s+and\s+e|111|999|camhs|nicu|scbu|picu|nhs|health\s+visitors?|"
    r"school\s+nurses?|"
    r"the\s+(?:rosie|evelina|jessop|lister|princess\s+royal|royal\s+alexandra|"
    r"florence\s+nightingale|james\s+cook|george\s+eliot|william\s+harvey|john\s+radcliffe)|"
    r"alder\s+hey|great\s+ormond\s+st(?:reet|\.)?|jenny\s+lind|jessop\s+wing|"
    r"john\s+radcliffe|william\s+harvey|james\s+cook\s+(?:university\s+)?hospital|"
    r"george\s+eliot\s+hospital|queen\s+charlotte['’]?s|noah['’]?s\s+ark|"
    r"ronald\s+mcdonald\s+house|princess\s+(?:royal|alexandra|of\s+wales)\s+hospital|"
    r"the\s+(?:jr|bri|gri|lgi|rvi|qmc|qe|qeh|qa|rsch|bch|jcuh)|"
    r"(?:at|to|in|from)\s+(?:jimmy['’]?s|pinders|alder\s*hey|king['’]?s))(?![\w'’])",
    re.IGNORECASE,
)

# Words that follow an ambiguous name when it is really a modal or verb ("nurse will see him").
_VERB_AFTER_AMBIGUOUS = _words(
    """
    be have do go come see call ring phone text email visit check get give help make let look
    need refer send speak talk tell try write book arrange review contact explain know take
    put weigh measure keep find start stop change sort discuss ask answer meet pop follow
    update chase confirm bring arrive attend also still just then not never always only
    hopefully soon now really probably definitely possibly well already even need want like
    feel think say come hear happen cause lead mean show get prescribe recommend suggest
    """
)

_PRONOUNS = _words(
    "i you he she it we they me him her us them my your his its our their this that there "
    "the a an free some any no what which who"
)
# Verbs that make a lowercase ambiguous word the subject: "will was lovely", "grace said".
_NAME_VERBS = _words(
    "was is has had said says did does told tells came comes gave gives helped helps explained "
    "listened seemed looked rang phoned called checked weighed visited went goes got gets "
    "slept sleeps cried cries caught catches needs needed loves loved started stopped"
)

# Words of British texting and of health services that no dictionary lists but that are not
# names, though the SSA list has babies called them. (April, May, June, August and Jan are names
# too: they are in _AMBIGUOUS_NAMES.)
_UK_WORDS = _words(
    """
    nan nanna nana nanny mam mammy hun hunny bub bubs bubba bubby hubby lo ds dd dh hv hvs gp gps
    obs paed paeds neo scbu nicu picu camhs salt ot physio ae nct sen senco ehcp bf ff ebf cmpa
    calpol nurofen gaviscon infacol dentinox sudocrem aptamil kendamil cow gate dob ni nino ish
    manc brum wks mths yrs hrs mins bday bdays rly abt bout cos coz tbh ngl idk imo lol omg pls
    plz thx ty tho thru gonna wanna gotta dunno kinda ppl msg msgs txt appt appts docs doc drs
    hosp rn atm asap fyi btw obvs defo deffo prob probs def hun hubs mil fil sil bil ff
    january february march july september october november december feb mar apr jun jul aug
    sep sept oct nov dec monday tuesday wednesday thursday friday saturday
    sunday mon tue tues wed weds thu thur thurs fri sat sun tiktok instagram insta facebook fb
    whatsapp youtube google mumsnet netmums snapchat twitter messenger zoom teams nhsapp
    """
)
_NEVER_NAME = _COMMON_WORDS | _UK_WORDS  # the allow-listed terms are in it too
_SURNAMES_ONLY = _SURNAMES - _NEVER_NAME


def _wordlist(name: str) -> frozenset[str]:
    """A list from bot/wordlists/ (see tools/build_wordlists.py for where each comes from)."""
    text = resources.files("bot").joinpath("wordlists", name).read_text(encoding="utf-8")
    return frozenset(line for line in text.splitlines() if line and not line.startswith("#"))


# The hand-written lists above decide where they disagree with the generated ones: "june" is a
# month first, "martin" a name first.
_ENGLISH_WORDS = _wordlist("english_words.txt") | _NEVER_NAME
_AMBIGUOUS_NAMES = _AMBIGUOUS_NAMES | (_wordlist("name_words.txt") - _FIRST_NAMES - _NEVER_NAME)
# Clinical words, medicines and baby brands, and UK hospitals and places: words no general
# dictionary has, and no name either (written for this project; see the files' headers). A UK
# place beats the US baby-name list: Bradford, Brighton and Warwick are towns here.
_HEALTH_WORDS = _wordlist("health_words.txt")
_UK_PLACES = _wordlist("uk_places.txt")
_FIRST_NAMES = _FIRST_NAMES | (_wordlist("first_names.txt") - _UK_PLACES - _HEALTH_WORDS)
_FIRST_NAMES = _FIRST_NAMES - _AMBIGUOUS_NAMES - _NEVER_NAME
_ENGLISH_WORDS = _ENGLISH_WORDS | _HEALTH_WORDS | (_UK_PLACES - _FIRST_NAMES)
# Frequent words with one letter taken out, by position: ("waitng", 5) comes from "waiting".
_FREQUENT = _wordlist("frequent_words.txt")
_FREQUENT_DELETES = frozenset((w[:i] + w[i + 1 :], i) for w in _FREQUENT for i in range(len(w)))

# A name followed by one of these (after up to two further non-common words) is part of the name
# of a place: "Rosie Hospital", "Lily Ward", "James Cook University Hospital".
_FACILITY_WORDS = _words(
    """
    hospital hospitals infirmary ward unit centre center clinic surgery practice medical
    children childrens women womens hospice health trust house school academy nursery college
    university wing suite building road street avenue lane close drive way court crescent
    grove place terrace gardens walk mews square park
    """
)
_PARENT_WORDS = _words(
    "mum mom mam mummy mother dad daddy father nan nana nanny gran grandma grandad"
)
# After "X's", these make X an adult ("jo's husband"); other words make X most likely a child.
_ADULT_RELATIVES = _words("husband wife partner boyfriend girlfriend fiance fiancee ex")
# For names that are also words.
_MODAL_NAMES = _words("will may can")
_MONTH_NAMES = _words("april may june august jan")
# Abstract nouns: "with patience", "for joy", "with grace" are ordinary English.
_ABSTRACT_NAMES = _words(
    """
    hope joy faith patience grace mercy comfort love charity destiny harmony victory honey
    precious blessing favour gift sunny storm melody heaven lucky justice trinity serenity
    """
)
_AGE_GAP_RE = re.compile(r"\s+(?:[\d\-–/.]+\s*)*")  # "rays 1 yr review", "pats 6-8 week check"
_ME_AND_RE = re.compile(r"\b(?:me|i)(?:\s+(?:and|n)\s+|\s*[&+]\s*)$", re.IGNORECASE)
_PREPOSITIONS = _words("in on at since until till by from of for about during before after")
_ADJECTIVE_NAMES = _words("frank sunny rich lucky precious free fine well sure grand happy blessed")
_SEASONS_AND_MONTHS = _words("summer autumn winter spring april may june august jan")
_ADVERBS = _words("still never always just also then really finally actually even already")
_TIME_NOUNS = _words(
    """
    day days night nights evening morning holidays holiday term year years yr yrs week weeks wk
    wks month months mth mths
    """
)
_CLAUSE_STARTERS = _words(
    "and when after because but while until till so then since before as cos coz n also"
)
_GREETINGS = _words("hi hiya hello hey morning evening afternoon heya hii")
_INTRO_FOLLOWERS = _words(
    "mum mummy mam mom dad daddy nan nana gran grandma grandad carer here and aunt auntie my"
)
_PERSON_VERBS = _words(
    """
    said says rang rings called calls told cried cries caught catches came comes slept sleeps
    fed feeds ate eats weighed weighs felt feels noticed spotted asked explained remembered
    loves loved smiled smiles started starts stopped stops ended ends referred gave took saw
    sees gets got needs needed keeps kept hates hated wont won't cant can't couldnt couldn't
    doesnt doesn't didnt didn't wasnt wasn't isnt isn't screamed screams vomited walked walks
    talked talks crawled crawls refused refuses wakes woke goes went arrived turned turns
    """
)
_PERSON_PREDICATES = _words(
    """
    born weighed discharged seen admitted sick poorly ill unwell doing crying feeding sleeping
    teething referred diagnosed vaccinated jabbed measured checked rushed transferred been had
    having started kept home allergic premature prem tongue struggling gaining losing
    """
)
_OBJECT_VERBS = _words(
    """
    see saw seen with took take taking gave give giving about for after called named love hug
    cuddle told asked visit visiting fed feed weigh weighed bath bathe dress collect collected
    picked carry carried brought bring seeing check checked examined examine
    """
)
_CHILDS_THINGS = _words(
    """
    review check appointment appt weaning feeding feeds bottle bottles birthday bday dob nhs
    year years yr yrs week weeks wk wks month months mth mths day first
    red book weight jabs vaccinations vaccines immunisations nappy nappies cot room bedroom
    school nursery teacher hearing eyes eye skin rash reflux colic cmpa jaundice constipation
    eczema asthma allergy allergies speech tongue hip hips sleep sleeping temperature temp
    cough cold chest ear ears referral notes records health development growth centile
    """
)
# UK towns that are also first names ("we live in Shirley").
_TOWNS = _words(
    """
    shirley beverley derry kendal chester lincoln kingston preston clifton morley barry stanley
    washington hyde wells ely bury sale selby brent camden chelsea crawley hailey ashley bradley
    dudley darlington lewes louth ripley rowley royston sidney whitby wigan winston worthing
    """
)
_PLACE_PREFIXES = _words("st saint royal queen king prince princess lady sir")

# Nouns after "X's" that make X a person ("zayn's mum", "amira's appointment").
_AFTER_POSSESSIVE = _words(
    """
    mum mom mam mummy mother dad daddy father nan nana nanny gran granny grandma grandad grandpa
    sister brother twin parents parent carer carers cousin auntie aunt uncle name nursery
    school teacher appointment appt birthday bday weight jabs vaccinations hv gp nurse
    consultant keyworker referral dob nhs health care plan needs cot room bedroom pushchair
    buggy red book
    """
)

# --------------------------------------------------------------------------------------------------
# Structured patterns
# --------------------------------------------------------------------------------------------------

_EMAIL_RE = re.compile(
    r"(?<![\w.+'\-])[A-Za-z0-9][\w.+'\-]*@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+", re.ASCII
)
# Spelled-out addresses parents type to dodge autocorrect: "sarahj88 at gmail dot com".
_SPOKEN_EMAIL_RE = re.compile(
    r"(?<![\w.+\-])[A-Za-z0-9][\w.+\-]*(?:\s+(?:dot|underscore|dash|hyphen)\s+[\w.+\-]+){0,4}"
    r"\s*(?:\(at\)|\[at\]|\s+at\s+)\s*"
    r"(?:gmail|googlemail|hotmail|yahoo|outlook|icloud|live|btinternet|aol|sky|nhs|protonmail|"
    r"mail)(?:\s*(?:\.|\bdot\b)\s*(?:com|co|uk|net|org))+\b",
    re.IGNORECASE,
)

# Web addresses. A link to someone's profile or site identifies them, so every URL is redacted
# unless it is on a public service's domain that staff need to see (nhs.uk, gov.uk, ...).
_URL_RE = re.compile(
    r"(?<![\w@.\-])(?:(?:https?://|www\.)[^\s<>\"]+|"
    r"(?:[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?\.)+"
    r"(?:com|co\.uk|org\.uk|uk|org|net|io|me|ly|tv|app|info|biz|ie|us|gg|page|site|online|"
    r"blog|link|shop|store|co|eu|de|pl|ro|ng|pk|in|bd|ee|be|to|gl|cc|ai|social)"
    r"(?![\w\-])(?:/[^\s<>\"]*)?)",
    re.IGNORECASE,
)
_URL_TRAILING = ".,;:!?)]}'\"’”"
_PUBLIC_DOMAINS = _words(
    """
    nhs.uk nhs.net gov.uk nice.org.uk who.int nspcc.org.uk samaritans.org giveusashout.org
    refuge.org.uk womensaid.org.uk mind.org.uk bliss.org.uk unicef.org.uk lullabytrust.org.uk
    nct.org.uk mumsnet.com netmums.com bbc.co.uk bbc.com youtube.com google.com google.co.uk
    """
)
# Profiles on these sites are people; a bare "facebook" or "facebook.com" is not.
_PROFILE_HOST_RE = re.compile(
    r"(?:^|\.)(?:facebook|fb|instagram|instagr|tiktok|twitter|x|linkedin|snapchat|threads|"
    r"youtube|youtu|pinterest|reddit|tumblr|onlyfans|linktr|wa|t|m|paypal|gofundme|"
    r"justgiving|patreon|ko-fi|github|medium|substack|vinted|depop|etsy)\.[a-z.]+$"
)
# "@sarahj88" on Instagram or TikTok, not the "@" of an email.
_HANDLE_RE = re.compile(r"(?<![\w@.])@[A-Za-z0-9_](?:[A-Za-z0-9_.]{1,29})(?<!\.)")

# National Insurance numbers: two prefix letters (never D, F, I, Q, U or V; second never O; not
# BG, GB, KN, NK, NT, TN or ZZ), six digits, suffix A to D. QQ is Her Majesty's Revenue's
# specimen prefix, kept so documentation examples are caught.
_NI_RE = re.compile(
    r"(?<![A-Za-z0-9])(?P<prefix>(?!BG|GB|KN|NK|NT|TN|ZZ)"
    r"(?:QQ|[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]))"
    r"[ .\-]?(?P<d1>\d{2})[ .\-]?(?P<d2>\d{2})[ .\-]?(?P<d3>\d{2})"
    r"(?:[ .\-]?(?P<suffix>[A-D]))?(?![A-Za-z0-9])",
    re.IGNORECASE,
)
_NI_CONTEXT_RE = re.compile(r"\b(?:ni|nino|n\.i\.?|national\s+insurance)\b", re.IGNORECASE)

# Ten digits, optionally grouped; the grouping is checked in code (3-3-4, 10, etc.).
_TEN_DIGITS_RE = re.compile(r"(?<![\d+])\d(?:[ .\-]?\d){9}(?!\d)")
_NHS_CONTEXT_RE = re.compile(r"\bnhs\b", re.IGNORECASE)

# UK numbers: an international prefix (+44, 0044, optional "(0)") or a trunk 0, then 9 or 10 digits
# with single separators anywhere (spaces, dots, dashes, a closing bracket after the area code).
_PHONE_RE = re.compile(
    r"(?<![\w+])"
    r"(?P<prefix>(?:\+|00)\s?44\s?(?:\(0\)\s?)?\(?|\(?0)"
    r"\d(?:[ .\-]?\)?[ .\-]?\d){8,9}"
    r"(?!\d)"
)

_OUTWARD = r"(?:[A-PR-UWYZ][A-HK-Y]\d[ABEHMNPRVWXY\d]?|[A-PR-UWYZ]\d[A-HJKPSTUW\d]?)"
_INWARD = r"\d[ABD-HJLNP-UW-Z]{2}"
_POSTCODE_RE = re.compile(rf"(?<![^\W_])({_OUTWARD})\s?({_INWARD})(?![^\W_])", re.IGNORECASE)
_OUTWARD_CONTEXT_RE = re.compile(
    rf"\b(?:in|near|nr|live|lives|living|lived|from|postcode(?:\s+is)?|post\s+code(?:\s+is)?|"
    rf"area|around|based\s+in|moved\s+to)\s*[:\-]?\s+(?:the\s+)?(?P<out>{_OUTWARD})(?![^\W_])",
    re.IGNORECASE,
)
_OUTWARD_AREA_RE = re.compile(rf"(?<![^\W_])(?P<out>{_OUTWARD})\s+area\b", re.IGNORECASE)
# Two-letter areas with a district ("wakefield wf1") are rarely anything else; one-letter ones
# ("b4", "m6", "b12") need a cue.
_OUTWARD_TWO_LETTER_RE = re.compile(
    r"(?<![^\W_])(?P<out>[A-PR-UWYZ][A-HK-Y]\d[ABEHMNPRVWXY\d]?)(?![^\W_])", re.IGNORECASE
)
_NOT_OUTWARD = _words("co2 so2 ch4 sk8")
# Real postcode areas, so "in y6" (school year) or "in p6" are not taken for outward codes.
_POSTCODE_AREAS = _words(
    """
    ab al b ba bb bd bh bl bn br bs bt ca cb cf ch cm co cr ct cv cw da dd de dg dh dl dn dt
    dy e ec eh en ex fk fy g gl gu gy ha hd hg hp hr hs hu hx ig im ip iv je ka kt kw ky l la
    ld le ll ln ls lu m me mk ml n ne ng nn np nr nw ol ox pa pe ph pl po pr rg rh rm s sa se
    sg sk sl sm sn so sp sr ss st sw sy ta td tf tn tq tr ts tw ub w wa wc wd wf wn wr ws wv
    yo ze
    """
)

_MONTH_NUMBERS = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
    "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
}  # fmt: skip
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_DAY = r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?"
_DATE_RE = re.compile(
    r"(?<![\w/.\-])(?:"
    r"(?P<num>\d{1,2}[/.\-]\d{1,2}[/.\-](?:\d{4}|\d{2}))"
    r"|(?P<iso>(?:19|20)\d{2}-\d{1,2}-\d{1,2})"
    rf"|(?P<dm>{_DAY}(?:\s+of)?\s+{_MONTH}(?:,?\s+(?:(?:19|20)\d{{2}}|['’]\d{{2}})"
    r"|\s+\d{2}(?=\s*(?:$|[.,;!?)])))?)"
    rf"|(?P<md>{_MONTH}\s+{_DAY}(?:,?\s+(?:19|20)\d{{2}})?)"
    rf"|(?P<my>{_MONTH},?\s+(?:19|20)\d{{2}})"
    r")(?![\w/])",
    re.IGNORECASE,
)
_COMPACT_DOB_RE = re.compile(
    r"\b(?:dob|d\.\s?o\.\s?b\.?|date\s+of\s+birth|born)\s*[:\-]?\s*(?P<d>\d{6}|\d{8})\b",
    re.IGNORECASE,
)
# Words that tie a day and month to a person's birth or death, or a baby's due date.
_DATE_CUE_RE = re.compile(
    r"\b(?:birthdays?|birthdate|birth|born|bday|b['’]day|dob|d\.\s?o\.\s?b\.?|due|edd|"
    r"died|passed\s+away|turns|turned)(?![\w])",
    re.IGNORECASE,
)
_BARE_DAY_MONTH_RE = re.compile(
    r"(?<![\w/.\-])(?:[12]\d|3[01]|0?[1-9])[/.\-](?:1[0-2]|0?[1-9])(?![\w/]|[.\-]\d)"
)
_LIST_GAP_RE = re.compile(r"[\s,]*")
# "born 3/12", "dob 31/10": a day and month with no year, only straight after such a cue (on its
# own "8/10" is a score and "24/7" a phrase).
_CUED_DAY_MONTH_RE = re.compile(
    r"\b(?:born|dob|d\.\s?o\.\s?b\.?|date\s+of\s+birth|birthday|bday|due)"
    r"(?:\s+(?:is|was|on|the|of|again|date))*\s*[:\-]?\s*"
    r"(?P<d>(?:[12]\d|3[01]|0?[1-9])[/.\-](?:1[0-2]|0?[1-9]))(?![\w/]|[.\-]\d)",
    re.IGNORECASE,
)
_SENTENCE_BREAK_RE = re.compile(r"[!?\n]|\.\s")

_STREET_SUFFIX = (
    r"(?:road|rd|street|st|avenue|ave|lane|ln|close|drive|dr|way|court|ct|crescent|cres|grove|"
    r"place|pl|terrace|tce|gardens|gdns|walk|mews|hill|row|square|sq|view|rise|park|green|"
    r"parade|boulevard|croft|fold|gate|vale|wynd|brow|meadows?|garth|mount|terr|bank|heights|"
    r"grange|chase|approach|quay|wharf|dene)"
)
# Words that cannot be part of a street name: they turn "6 months down the road" or "3 nights in a
# row" into ordinary sentences.
_ADDRESS_BLOCK = (
    r"(?:a|an|the|and|or|but|of|to|in|on|at|by|for|from|with|into|onto|over|under|up|down|out|"
    r"off|near|about|after|before|around|is|was|are|were|be|been|has|have|had|do|did|does|my|"
    r"our|your|his|her|their|its|it|this|that|these|those|we|i|you|he|she|they|me|him|them|us|"
    r"so|very|too|really|quite|just|all|some|any|more|most|no|not|seconds?|minutes?|mins?|"
    r"hours?|hrs?|days?|nights?|weeks?|wks?|months?|mths?|years?|yrs?|times?|miles?|km|"
    r"metres?|meters?|kids?|child|children|baby|babies|people|long|short|big|small|little|"
    r"whole|same|last|next|first|other|every|each|good|bad|hard|nice|extra|further|separate|"
    r"different|old|year-old|weeks?-old)"
)
_STREET_WORD = rf"(?!{_ADDRESS_BLOCK}\b)[^\W\d_][\w'’\-]*\.?"
_ADDRESS_RE = re.compile(
    r"(?<![\w])"
    r"(?:(?:flat|apartment|apt|unit|room)\s*[a-z]?\d{1,4}[a-z]?\s*,?\s+)?"
    r"\d{1,4}[a-z]?(?:\s*-\s*\d{1,4}[a-z]?)?\s*,?\s+"
    rf"(?:the\s+|(?:{_STREET_WORD}\s+){{1,3}})"
    rf"(?P<suffix>{_STREET_SUFFIX})\b\.?",
    re.IGNORECASE,
)
_ADDRESS_CONTEXT_RE = re.compile(
    r"\b(?:live|lives|living|lived|moved|move|moving|address(?:\s+is)?|stay|stays|staying)\s+"
    r"(?:(?:on|in|at|to|off|near)\s+)?"
    rf"(?P<street>(?:{_STREET_WORD}\s+){{1,3}}(?P<suffix>{_STREET_SUFFIX}))\b",
    re.IGNORECASE,
)
_ADDRESS_ABBREVIATIONS = {
    "rd": "road", "st": "street", "ave": "avenue", "ln": "lane", "dr": "drive", "ct": "court",
    "cres": "crescent", "pl": "place", "tce": "terrace", "gdns": "gardens", "sq": "square",
}  # fmt: skip

# --------------------------------------------------------------------------------------------------
# Name cues
# --------------------------------------------------------------------------------------------------

_ANYWHERE = 0  # gazetteer hit with no cue
_WEAK = 1  # cue that needs a known or capitalised name ("i'm X", "this is X")
_STRONG = 2  # cue after which an unknown lowercase word is taken as a name ("my son is X")

_NAME_AHEAD = r"(?=[^\W\d_])"
_REL_WORDS = (
    r"sons?|daughters?|bab(?:y|ies)|boys?|girls?|lads?|child(?:ren)?|kids?|toddlers?|twins?|"
    r"triplets|partner|husband|hubby|wife|fianc[eé]{1,2}|boyfriend|girlfriend|bf|gf|mum|mom|mam|"
    r"mummy|mother|dad|daddy|father|nan|nana|nanna|nanny|gran|granny|grandma|grandmother|grandad|"
    r"granddad|grandpa|grandfather|brothers?|sisters?|auntie|aunty|aunt|uncle|cousin|niece|nephew|"
    r"friend|step-?sons?|step-?daughters?|step-?mum|step-?dad|grandsons?|granddaughters?|"
    r"grandchildren|grandkids|eldest|youngest|oldest|little\s+one|lo|ds|dd|dh|other\s+half|carer|"
    r"ex"
)
# "my 3yo", "my 2 year old": the age is the noun.
_AGE_NOUN = (
    r"\d{1,2}\s*(?:-\s*)?(?:yo|y/o|y\.o\.?|(?:yrs?|years?|months?|mths?|weeks?|wks?|days?)"
    r"\s*-?\s*old)"
)
_CHILD_RELS = _words(
    """
    son sons daughter daughters baby babies boy boys girl girls lad lads child children kid kids
    toddler toddlers twins triplets stepson stepsons step-son step-sons stepdaughter
    stepdaughters step-daughter step-daughters grandson grandsons granddaughter granddaughters
    grandchildren grandkids eldest youngest oldest lo ds dd
    """
) | {"little one"}
_PLURAL_RELS = _words(
    "sons daughters babies boys girls lads children kids toddlers twins triplets brothers "
    "sisters stepsons step-sons stepdaughters step-daughters grandsons granddaughters "
    "grandchildren grandkids"
)
_REL_MODIFIERS = (
    r"(?:(?:little|baby|eldest|youngest|oldest|middle|older|younger|big|new|newborn|first|"
    r"second|third|twin|prem|premature|beautiful|gorgeous|lovely|precious|darling|poorly|"
    r"\d{1,2}\s*(?:-\s*)?(?:yo|y/o|y\.o\.?|yrs?|years?|months?|mths?|mo|weeks?|wks?|days?|m|w|y)"
    r"(?:\s*-?\s*old)?)\s+)*"
)
_TITLE_WORDS = (
    r"dr|mr|mrs|ms|mx|prof|professor|doctor|nurse|sister|midwife|matron|health\s+visitor|hv|"
    r"consultant|paediatrician|pediatrician|registrar|surgeon|physio|physiotherapist|dietitian|"
    r"dietician|therapist|psychologist|psychiatrist|receptionist|social\s+worker|"
    r"key\s*worker|support\s+worker|hca|practitioner|sonographer|paramedic|anaesthetist|"
    r"audiologist|optometrist|orthoptist"
)
_PERSON_NOUNS = (
    r"lady|man|woman|girl|boy|guy|bloke|chap|fella|gentleman|gent|person|nurse|doctor|midwife|hv|"
    r"health\s+visitor|consultant|receptionist|student|worker|practitioner|friend|baby|son|"
    r"daughter|child|kid|lad|lass"
)


@dataclass(frozen=True)
class _Cue:
    pattern: re.Pattern[str]
    strength: int
    fullname: bool = False  # the cue introduces a whole name: take an unknown surname too
    signoff: bool = False  # only counts when the name ends the message ("thanks, Zendaya x")
    role: str = "PERSON"  # whom the cue names; a "rel" group ("my son") refines it per match


def _cue(
    pattern: str,
    strength: int,
    *,
    fullname: bool = False,
    signoff: bool = False,
    role: str = "PERSON",
) -> _Cue:
    return _Cue(re.compile(pattern + _NAME_AHEAD, re.IGNORECASE), strength, fullname, signoff, role)


def _role_of_relation(rel: str | None, default: str) -> str:
    """ "my son" names a child, "my partner" an adult."""
    if rel is None:
        return default
    rel = re.sub(r"\s+", " ", rel.lower())
    if rel in _CHILD_RELS or rel[0].isdigit():  # "my 3yo"
        return "CHILD"
    return "PERSON"


_CUES: tuple[_Cue, ...] = (
    _cue(r"\bnames?(?:['’]s|\s+is|\s+was)?\s*[:\-–]?\s*", _STRONG, fullname=True),
    _cue(r"\bnamed\s+", _STRONG, fullname=True),
    _cue(
        r"\b(?:(?:is|was|am|are|were|be|been|being|['’]s|['’]m|also)\s+called|"
        rf"(?:a|an|one|some|another|the|this|that)\s+(?:{_PERSON_NOUNS})\s+(?:called|named)|"
        r"some(?:one|body)\s+called|(?:he|she|they)\s+goes?\s+by)\s+",
        _STRONG,
        fullname=True,
    ),
    _cue(r"\bcalled\s+", _WEAK),
    _cue(r"\b(?:i['’]?m|i\s+am)\s+", _WEAK, fullname=True),
    _cue(r"\b(?:this\s+is|it['’]s|its|here\s+is|meet)\s+", _WEAK, fullname=True),
    _cue(
        r"\b(?:my|our|his|her|their|your)\s+"
        + _REL_MODIFIERS
        + rf"(?P<rel>{_REL_WORDS}|{_AGE_NOUN})\b\s*[,:\-–(]?\s*"
        r"(?:(?:is|was|are|were|['’]s)\s+(?:called\s+|named\s+)?|(?:called|named|who\s+is)\s+)?",
        _STRONG,
    ),
    _cue(
        rf"\b(?:{_TITLE_WORDS})\b\.?\s*[:\-–,(]?\s*(?:called\s+|named\s+)?",
        _STRONG,
        fullname=True,
        role="STAFF",
    ),
    # "GP" alone is not a name ("gp surgery", "gp said"); only a known or capitalised name after it.
    _cue(r"\bgps?\.?\s+", _WEAK, fullname=True, role="STAFF"),
    # "miss lunch", "miss school": only a known or capitalised name makes "miss" a title.
    _cue(r"\bmiss\s+", _WEAK, fullname=True, role="STAFF"),
    _cue(
        r"\b(?:mum|mom|mam|mummy|mother|dad|daddy|father|parent|carer|nan|nana|grandma|grandad|"
        r"gran)\s+(?:of|to|2)\s+",
        _STRONG,
        role="CHILD",
    ),
    _cue(r"\bbaby\s+", _WEAK, role="CHILD"),
    _cue(
        r"(?:\b(?:thanks|thank\s+you|thankyou|thx|ta|cheers|regards|wishes|bye)|"
        r"(?:^|(?<=[\n,.!]))\s*(?:love|from))"
        r"\s*[,.!:\-–]*\s*",
        _WEAK,
        fullname=True,
        signoff=True,
    ),
)
# "It's called bronchiolitis" names a thing, not a person.
_THING_CALLED_RE = re.compile(r"\b(?:it|its|this|that|which|what)\s*(?:['’]s|is|was)?\s+called\s+$")
_SIGNOFF_TAIL_RE = re.compile(r"\s*[,.!]*\s*(?:x+)?\s*[.!]*\s*$", re.IGNORECASE)
_CONJUNCTION_RE = re.compile(r"\s*(?:,|&|\+|\band\b|\bn\b)\s*(?:\band\b\s*)?$", re.IGNORECASE)

_TOKEN_RE = re.compile(r"[^\W\d_]+(?:['’\-][^\W\d_]+)*")
_NAME_SHAPE_RE = re.compile(r"[^\W\d_]+(?:['\-][^\W\d_]+)*")
_VOWEL_RE = re.compile(r"[aeiouy]")
# Endings that make an unknown lowercase word a verb or adjective, not a name.
_NON_NAME_ENDINGS = (
    "ing", "ed", "ly", "ful", "less", "ness", "ment", "able", "ible", "ous", "ive", "ise", "ize",
    "tion", "sion", "est", "er",
)  # fmt: skip
_NON_NAME_ENDINGS_CAPITALISED = (
    "ing", "ed", "ly", "ful", "less", "ness", "ment", "able", "ible", "ous", "tion", "sion",
)  # fmt: skip
_NAME_S_ENDINGS = ("ss", "is", "us", "as", "os", "ys")

_RANK = {
    "EMAIL": 0,
    "URL": 1,
    "NHS_NUMBER": 2,
    "NI_NUMBER": 3,
    "DATE": 4,
    "PHONE": 5,
    "POSTCODE": 6,
    "ADDRESS": 7,
    "PERSON": 8,
}


# --------------------------------------------------------------------------------------------------
# Internals
# --------------------------------------------------------------------------------------------------

# Control characters (but tab and newline) can rewrite a terminal or a log line: they become
# spaces, while matching and in the output.
_CONTROL_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Characters that show nothing: zero-width and joining characters, soft hyphens, direction marks
# and the byte-order mark. Ignored while matching, so they cannot split an identifier.
_INVISIBLE_RE = re.compile(
    "[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff]"
)
# Dropped from the output: the bidi embeddings, overrides and isolates, which can reorder what
# staff see on screen. Joiners and direction marks stay: Urdu needs the zero-width non-joiner,
# emoji the joiner.
_BIDI_CONTROL_RE = re.compile("[\u202a-\u202e\u2066-\u2069]")


@dataclass(frozen=True)
class _Candidate:
    type: str
    start: int
    end: int
    value: str  # normalised value; in memory only, for this call
    placeholder: str | None = None  # already known from the state (a later mention)
    role: str = "PERSON"  # for names: the placeholder kind if the name is new


@dataclass(frozen=True)
class _Token:
    start: int
    end: int  # end of the name part (before a possessive 's)
    full_end: int
    norm: str  # lowercase, accents stripped, curly apostrophes straightened
    possessive: bool
    capitalised: bool  # evidence only when the message is not written all in capitals
    sentence_initial: bool


def _strip_accents(text: str) -> str:
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _tokenise(text: str) -> list[_Token]:
    shouting = not any(c.islower() for c in text)
    tokens: list[_Token] = []
    for match in _TOKEN_RE.finditer(text):
        raw = match.group()
        start, full_end = match.span()
        possessive = len(raw) > 3 and raw[-2] in "'’" and raw[-1] in "sS"
        name = raw[:-2] if possessive else raw
        k = start - 1
        while k >= 0 and text[k] in " \t\"'“‘(":
            k -= 1
        tokens.append(
            _Token(
                start=start,
                end=start + len(name),
                full_end=full_end,
                norm=_strip_accents(name.replace("’", "'")).lower(),
                possessive=possessive,
                capitalised=name[0].isupper() and not shouting,
                sentence_initial=k < 0 or text[k] in ".!?\n\r…",
            )
        )
    return tokens


def _looks_like_name(norm: str, capitalised: bool) -> bool:
    """Shape test for a word not in any list: could it be a name?"""
    if not 2 <= len(norm) <= 24 or not _NAME_SHAPE_RE.fullmatch(norm):
        return False
    if not _VOWEL_RE.search(norm):
        return False
    if norm not in _ENGLISH_WORDS:
        # No dictionary has it, so its ending says little ("Loveness", "oreilly"); only verb
        # endings still point to a misspelt word ("explaned").
        return not norm.endswith(("ing", "ed"))
    if capitalised:
        return not norm.endswith(_NON_NAME_ENDINGS_CAPITALISED)
    if norm.endswith(_NON_NAME_ENDINGS):
        return False
    # Third-person verbs ("the nurse weighs") end in s; names ending in s mostly end like these.
    return not norm.endswith("s") or norm.endswith(_NAME_S_ENDINGS)


def _name_word_in_person_slot(text: str, tokens: list[_Token], index: int) -> str | None:
    """The role of a name that is also a word ("will", "penny", "ray"), or of a word that looks
    misspelt ("juste"), if only a person fits where it stands; None when it may be ordinary:
    "i will", "a penny", "in may", "with patience"."""
    token = tokens[index]
    norm = token.norm
    previous = tokens[index - 1] if index > 0 else None
    following = tokens[index + 1] if index + 1 < len(tokens) else None
    after = tokens[index + 2] if index + 2 < len(tokens) else None
    if norm in _NEVER_NAME or _is_town(tokens, index) or _is_place_name(text, tokens, index, index):
        return None
    if previous is not None and previous.norm in _PLACE_PREFIXES:
        return None  # "St George's", "Queen Elizabeth"

    # "Ray's constipation", "rays 1 yr review", "williams hip dysplasia": a child's own things.
    stem = norm[:-1] if norm.endswith("s") and not token.possessive else None
    if (
        stem is not None
        and following is not None
        and (_is_childs_thing(following) or following.norm in _PARENT_WORDS)
        and _AGE_GAP_RE.fullmatch(text, token.full_end, following.start)
        and (
            stem in _AMBIGUOUS_NAMES
            or _is_known_first_name(stem)
            or (
                norm not in _ENGLISH_WORDS
                and following.norm not in _TIME_NOUNS
                and _is_unknown_word(replace(token, norm=stem), typos=False)
            )
        )
    ):
        tokens[index] = replace(token, end=token.end - 1, norm=stem)
        return "CHILD"
    if norm not in _AMBIGUOUS_NAMES and (norm in _ENGLISH_WORDS or len(norm) < 3):
        return None
    if norm not in _AMBIGUOUS_NAMES and not token.capitalised and _is_typo(norm):
        return None  # "and noobdy came": a slip of the thumb, not a name
    if token.possessive:
        if norm in _PLACE_PREFIXES:
            return None  # "admitted to King's"
        if (
            following is not None
            and following.norm in _TIME_NOUNS
            and _gap_is_space(text, token, following)
        ):
            return None  # "summer's day"; but "will's 27 month check" is a child's
        if following is not None and (
            _is_childs_thing(following) or following.norm in _PARENT_WORDS
        ):
            return "CHILD"  # "will's colic", "zayn's mum"
        return "PERSON"

    before = text[max(0, token.start - 12) : token.start]
    gap_after = text[token.full_end : following.start] if following else text[token.full_end :]
    mid_capital = token.capitalised and not token.sentence_initial
    at_start = previous is None or token.sentence_initial or previous.norm in _CLAUSE_STARTERS
    # "me and sunny were in A&E", "a lifesaver for me & frank".
    if _ME_AND_RE.search(before):
        return "PERSON"
    # "ray mcgregor", "Amber Wiśniewski", "grace taylor": a name-word before a surname.
    if (
        following is not None
        and _gap_is_space(text, token, following)
        and (
            following.norm in _SURNAMES_ONLY
            or (
                following.capitalised
                and not following.sentence_initial
                and following.norm in _SURNAMES
            )
            or (
                len(following.norm) >= 4
                and not _is_known_first_name(following.norm)
                and _is_unknown_word(following)
            )
        )
    ):
        return "PERSON"
    # "sunny (4 month old)", "Rose (Will and June's mum)", "thanks for listening dawn (...)".
    if gap_after.lstrip().startswith("(") and (
        previous is None or previous.norm not in _PREPOSITIONS
    ):
        return "CHILD" if re.match(r"\s*\(\s*\d", gap_after) else "PERSON"
    # "It was joy who noticed", "asked about June who was at home".
    if following is not None and following.norm == "who":
        return "PERSON"
    # "hiya ray here", "Penny here."
    greeted = previous is None or previous.norm in _GREETINGS or token.sentence_initial
    if following is not None and following.norm == "here" and greeted:
        return "PERSON"
    # "hi im joy katies mum", "it's patience, tobi's mum", "im amber my number is".
    if previous is not None and previous.norm in ("im", "i'm", "its", "it's", "am"):
        if following is None or following.norm in _INTRO_FOLLOWERS or following.possessive:
            return "PERSON"
        if following.norm.endswith("s") and _is_known_first_name(following.norm[:-1]):
            return "PERSON"  # "katies mum"
        if (
            norm not in _ADJECTIVE_NAMES
            and norm not in _SEASONS_AND_MONTHS
            and ("," in gap_after or following.norm not in _VERB_AFTER_AMBIGUOUS)
        ):
            return "PERSON"
    # "will has been poorly", "Joy was weighed", "Faith spotted", "Roman had to take".
    subject = following
    if subject is not None and subject.norm in _ADVERBS and after is not None:
        subject = after  # "Bill still isnt sleeping"
    if subject is not None and (at_start or mid_capital) and not token.possessive:
        next_after = tokens[tokens.index(subject) + 1] if subject is not tokens[-1] else None
        if subject.norm in _PERSON_VERBS:
            return "PERSON"
        if subject.norm in ("was", "is", "has", "had", "s") and next_after is not None:
            if next_after.norm in _PERSON_PREDICATES or next_after.norm in _HEALTH_WORDS:
                return "PERSON"
            if subject.norm == "had" and next_after.norm == "to":
                return "PERSON"
        if (
            mid_capital
            and subject.norm in ("was", "is", "has", "had")
            and norm not in _SEASONS_AND_MONTHS
        ):
            return "PERSON"  # "when Ray was in nicu": a season or a word has no capital there
    # "will has", "may is": the modal never stands there; "will is 3 yr old".
    if (
        norm in _MODAL_NAMES
        and following is not None
        and not token.possessive
        and following.norm in ("was", "is", "has", "had", "s")
    ):
        return "PERSON"
    # "nobody could see Ray", "good with will", "took Penny to A&E", "gave charity 5ml".
    if previous is not None and previous.norm in _OBJECT_VERBS:
        if previous.norm in ("gave", "give", "giving") and re.match(r"\s+\d", gap_after + " "):
            return "PERSON"
        if norm in _ABSTRACT_NAMES:
            return None
        if norm in _MONTH_NAMES and previous.norm in ("about", "for", "after", "since", "till"):
            return None
        if following is None or following.norm not in _VERB_AFTER_AMBIGUOUS:
            return "PERSON"
    return None


def _is_childs_thing(token: _Token, after: _Token | None = None) -> bool:
    """ "review", "weaning", "colic", "1 yr review": what a possessive child's name comes before."""
    return token.norm in _CHILDS_THINGS or token.norm in _HEALTH_WORDS


def _listed_beside_name(text: str, tokens: list[_Token], index: int, spans: dict[int, int]) -> bool:
    """Is ``tokens[index]`` joined by "and", "&" or a comma to a name already found?"""
    starts = set(spans)
    ends = {last: first for first, last in spans.items()}
    for neighbour, joiner in ((index + 2, index + 1), (index - 2, index - 1)):
        if not 0 <= joiner < len(tokens) or not 0 <= neighbour < len(tokens):
            continue
        if tokens[joiner].norm not in ("and", "n") or (
            neighbour not in starts and neighbour not in ends
        ):
            continue
        return True
    for neighbour in (index + 1, index - 1):
        if not 0 <= neighbour < len(tokens) or (neighbour not in starts and neighbour not in ends):
            continue
        left, right = sorted((index, neighbour))
        if _CONJUNCTION_RE.fullmatch(text, tokens[left].full_end, tokens[right].start):
            return True
    return False


# Whether "in no English dictionary" can mean "probably a name": only for English messages
# (Redactor.redact sets it per call; in a Polish message nearly every word is unknown).
_DICTIONARY_APPLIES: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "dictionary_applies", default=True
)


def _is_unknown_word(token: _Token, *, typos: bool = True) -> bool:
    """Is this word in no dictionary and no list, shaped like a name, and (if ``typos``) not a
    misspelling of a frequent word? A capital letter mid-sentence rules out a typo. Never, for a
    message in another language than English."""
    norm = token.norm
    if (
        not _DICTIONARY_APPLIES.get()
        or len(norm) < 3
        or norm in _ENGLISH_WORDS
        or norm in _AMBIGUOUS_NAMES
    ):
        return False
    parts = re.split(r"['\-]", norm)
    if all(p in _ENGLISH_WORDS or len(p) < 3 for p in parts):
        return False  # "follow-up", "walk-in", "o'clock"
    if not _looks_like_name(norm, token.capitalised):
        return False
    if not typos or (token.capitalised and not token.sentence_initial):
        return True
    return not _is_typo(norm)


def _is_typo(word: str) -> bool:
    """Is ``word`` one slip from a frequent word: a letter missing, extra, swapped or wrong?"""
    if len(word) < 5:
        return False  # "egle", "amna": short names sit one slip from too many words
    if any((word, i) in _FREQUENT_DELETES for i in range(len(word) + 1)):
        return True  # a letter missing: "waitng"
    for i in range(len(word)):
        shorter = word[:i] + word[i + 1 :]
        if shorter in _FREQUENT or (shorter, i) in _FREQUENT_DELETES:
            return True  # a letter extra ("helpufl" is not this) or wrong: "thier" -> "their"
    # Two letters swapped: "thnig", "afetr".
    swaps = (word[:i] + word[i + 1] + word[i] + word[i + 2 :] for i in range(len(word) - 1))
    return any(swap in _FREQUENT for swap in swaps)


def _is_town(tokens: list[_Token], index: int) -> bool:
    """ "in shirley", "from beverley": a town that is also a first name, after a preposition."""
    return (
        tokens[index].norm in _TOWNS
        and index > 0
        and tokens[index - 1].norm in ("in", "from", "to", "near", "at", "around", "outside")
    )


def _is_known_first_name(norm: str) -> bool:
    if norm in _FIRST_NAMES:
        return True
    if "-" in norm:  # "amelia-rose", "mary-jane": every part a name, at least one unambiguous
        parts = norm.split("-")
        known = all(p in _FIRST_NAMES or p in _AMBIGUOUS_NAMES for p in parts)
        return known and any(p in _FIRST_NAMES for p in parts)
    return False


def _person_value(norm: str) -> str:
    return " ".join(norm.replace("-", " ").split())


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def _nhs_check_digit_ok(digits: str) -> bool:
    """Modulus 11 check used by NHS numbers: weights 10..2, check = 11 - sum mod 11."""
    if len(digits) != 10:
        return False
    total = sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == int(digits[9])


def _groups(text: str) -> list[str]:
    return [g for g in re.split(r"\D+", text) if g]


def _normalise_phone(raw: str, prefix: str) -> str | None:
    digits = _digits(raw)
    if prefix.lstrip("(").startswith(("+", "00")):
        digits = digits[2:] if digits.startswith("00") else digits
        digits = digits[2:]  # the 44
        digits = "0" + digits.lstrip("0")  # "(0)" trunk or none
    if not digits.startswith("0") or len(digits) not in (10, 11):
        return None
    if digits.startswith("07") and len(digits) != 11:
        return None  # mobiles are always 11 digits
    return digits


def _year(text: str) -> int:
    digits = _digits(text)
    if len(digits) == 4:
        return int(digits)
    two = int(digits)
    return 2000 + two if two < 50 else 1900 + two  # fixed pivot keeps output deterministic


def _date_key(day: int | None, month: int | None, year: int | None) -> str | None:
    if month is not None and not 1 <= month <= 12:
        return None
    if day is not None and not 1 <= day <= 31:
        return None
    return "{}-{}-{}".format(
        f"{year:04d}" if year is not None else "????",
        f"{month:02d}" if month is not None else "??",
        f"{day:02d}" if day is not None else "??",
    )


def _month_number(text: str) -> int:
    return _MONTH_NUMBERS[text.strip(". ").lower()[:3]]


def _date_value(match: re.Match[str]) -> str | None:
    """Normalise a date match to YYYY-MM-DD (unknown parts as ?), or None if it is not a date."""
    if match.group("num"):
        first, second, year_text = re.split(r"[/.\-]", match.group("num"))
        day, month = int(first), int(second)
        if month > 12 and day <= 12:  # written month-first
            day, month = month, day
        return _date_key(day, month, _year(year_text))
    if match.group("iso"):
        year_text, month_text, day_text = match.group("iso").split("-")
        return _date_key(int(day_text), int(month_text), int(year_text))
    months = re.search(_MONTH, match.group(), re.IGNORECASE)
    assert months is not None  # every remaining branch contains a month name
    rest = match.group()[: months.start()] + " " + match.group()[months.end() :]
    found_day: int | None = None
    found_year: int | None = None
    for number in re.findall(r"['’]?\d+", rest):
        if match.group("my") is None and found_day is None and number[0].isdigit():
            found_day = int(number)
        else:
            found_year = _year(number)
    return _date_key(found_day, _month_number(months.group()), found_year)


def _listed_birthdays(text: str, chosen: list[_Candidate]) -> list[_Candidate]:
    """A bare "23/07" listed with other identifiers ("its isla henderson 23/07 64 stanley crescent")
    is a birthday: redact it when only spaces and commas separate it from a redacted span."""
    found = []
    for match in _BARE_DAY_MONTH_RE.finditer(text):
        start, end = match.span()
        if _overlaps(start, end, chosen):
            continue
        beside = any(
            (c.end <= start and _LIST_GAP_RE.fullmatch(text, c.end, start))
            or (end <= c.start and _LIST_GAP_RE.fullmatch(text, end, c.start))
            for c in chosen
        )
        if beside:
            day, month = (int(n) for n in re.split(r"[/.\-]", match.group()))
            value = _date_key(day, month, None)
            if value is not None:
                found.append(_Candidate("DATE", start, end, value))
    return found


def _has_year(match: re.Match[str]) -> bool:
    if match.group("num") or match.group("iso"):
        return True
    dated = match.group("dm") or match.group("md")
    return dated is not None and re.search(r"(?:19|20)\d{2}|['’]\d{2}|\s\d{2}$", dated) is not None


def _compact_date_value(digits: str) -> str | None:
    day, month = int(digits[:2]), int(digits[2:4])
    return _date_key(day, month, _year(digits[4:]))


# --------------------------------------------------------------------------------------------------
# The redactor
# --------------------------------------------------------------------------------------------------


class Redactor:
    """Replaces personal data in a message with consistent ``[TYPE_N]`` placeholders.

    The key is the secret for the HMAC digests kept in ``RedactionState``; use a long random
    secret that is not stored with the transcripts, so digests cannot be brute-forced back to
    phone numbers or names.
    """

    def __init__(self, key: bytes, old_keys: Sequence[bytes] = ()) -> None:
        if not isinstance(key, bytes | bytearray) or not key:
            raise ValueError("Redactor needs a non-empty bytes key")
        self._key = bytes(key)
        # While the key is being rotated, digests remembered under the old ones still match; a
        # value found that way is remembered again under the current key (``_placeholder``).
        self._keys = (self._key, *(bytes(old) for old in old_keys))

    def redact(
        self, text: str, state: RedactionState | None = None, language: str = "en"
    ) -> Redaction:
        """Redact one message. ``state`` (mutated) carries placeholders across a conversation.

        ``language`` is the conversation's: the layer that takes words no English dictionary
        knows for names runs for English only (in Polish every word would be "unknown"); the
        identifiers, the name lists and the English cues run for every language."""
        if state is None:
            state = RedactionState()
        if not text:
            return Redaction(text, ())
        # Match on the text without invisible characters, so "0770\u200b0 900123" or a name
        # split by a soft hyphen cannot slip through; spans are mapped back to ``text``.
        view, positions = _matching_view(text)
        chosen = self._resolve(self._structured(view))
        dictionary = _DICTIONARY_APPLIES.set(language == "en")
        try:
            chosen = self._resolve(chosen + self._people(view, chosen, state))
        finally:
            _DICTIONARY_APPLIES.reset(dictionary)
        chosen += _listed_birthdays(view, chosen)
        if positions is not None:
            chosen = [
                replace(c, start=positions[c.start], end=positions[c.end - 1] + 1) for c in chosen
            ]
        return self._apply(text, chosen, state)

    # -- digests -------------------------------------------------------------------------------

    def _digest(self, kind: str, value: str, key: bytes | None = None) -> str:
        message = f"v{_STATE_VERSION}\x00{kind}\x00{value}".encode()
        return hmac.digest(key or self._key, message, "sha256").hex()[:_DIGEST_HEX_CHARS]

    def _remembered(self, memory: dict[str, str], kind: str, value: str) -> str | None:
        """The placeholder ``memory`` holds for a value, by its digest under any of the keys."""
        for key in self._keys:
            placeholder = memory.get(self._digest(kind, value, key))
            if placeholder is not None:
                return placeholder
        return None

    # -- layer 1: structured identifiers ------------------------------------------------------

    def _structured(self, text: str) -> list[_Candidate]:
        found: list[_Candidate] = []
        for match in _PLACEHOLDER_RE.finditer(text):  # already redacted: never redact again
            found.append(_Candidate("_KEEP", match.start(), match.end(), ""))
        for match in _EMAIL_RE.finditer(text):
            found.append(_Candidate("EMAIL", match.start(), match.end(), match.group().lower()))
        for match in _SPOKEN_EMAIL_RE.finditer(text):
            value = re.sub(r"\s*(?:\(at\)|\[at\]|\bat\b)\s*", "@", match.group().lower())
            value = re.sub(r"\s*\bdot\b\s*", ".", value)
            value = re.sub(r"\s*\bunderscore\b\s*", "_", value)
            value = re.sub(r"\s*\b(?:dash|hyphen)\b\s*", "-", value).replace(" ", "")
            found.append(_Candidate("EMAIL", match.start(), match.end(), value))
        found.extend(self._urls(text))
        found.extend(self._ni_numbers(text))
        phones = self._phones(text)
        found.extend(phones)
        found.extend(self._nhs_numbers(text, phones))
        found.extend(self._postcodes(text))
        found.extend(self._dates(text))
        found.extend(self._addresses(text))
        return found

    def _urls(self, text: str) -> list[_Candidate]:
        found = []
        for match in _URL_RE.finditer(text):
            url = match.group().rstrip(_URL_TRAILING)
            start = match.start()
            host = re.sub(r"^(?:https?://)?(?:www\.)?", "", url.lower()).split("/", 1)[0]
            host = host.split(":", 1)[0]
            path = url.lower().split(host, 1)[1].strip("/") if host in url.lower() else ""
            if any(host == d or host.endswith("." + d) for d in _PUBLIC_DOMAINS):
                continue
            if _PROFILE_HOST_RE.search(host) and not path:
                continue  # "facebook.com" on its own names a site, not a person
            found.append(_Candidate("URL", start, start + len(url), url.lower()))
        for match in _HANDLE_RE.finditer(text):
            found.append(_Candidate("URL", match.start(), match.end(), match.group().lower()))
        return found

    def _ni_numbers(self, text: str) -> list[_Candidate]:
        found = []
        for match in _NI_RE.finditer(text):
            if match.group("suffix") is None and not _NI_CONTEXT_RE.search(
                text, max(0, match.start() - 40), match.start()
            ):
                continue
            value = "".join(match.group("prefix", "d1", "d2", "d3")).upper()
            found.append(_Candidate("NI_NUMBER", match.start(), match.end(), value))
        return found

    def _phones(self, text: str) -> list[_Candidate]:
        found = []
        for match in _PHONE_RE.finditer(text):
            raw = match.group()
            number = _normalise_phone(raw, match.group("prefix"))
            if number is None:
                continue
            groups = _groups(raw)
            if match.group("prefix").lstrip("(").startswith(("+", "00")):
                groups = [g for g in groups[1:] if g != "0"]
            # Phone numbers come in long groups; "01.02.2023 12" is two dates, not a number.
            if sum(len(g) <= 2 for g in groups) >= 2:
                continue
            found.append(_Candidate("PHONE", match.start(), match.end(), number))
        return found

    def _nhs_numbers(self, text: str, phones: list[_Candidate]) -> list[_Candidate]:
        found = []
        for match in _TEN_DIGITS_RE.finditer(text):
            start, end = match.span()
            if any(
                p.start <= start and end <= p.end and p.end - p.start > end - start for p in phones
            ):
                continue  # the tail of "+44 7700 900123"
            groups = _groups(match.group())
            if len(groups) > 3 or any(len(g) < 3 for g in groups):
                continue
            digits = "".join(groups)
            near_nhs = _NHS_CONTEXT_RE.search(text, max(0, start - 50), start) or (
                _NHS_CONTEXT_RE.search(text, end, min(len(text), end + 30))
            )
            if _nhs_check_digit_ok(digits) or near_nhs:
                found.append(_Candidate("NHS_NUMBER", start, end, digits))
            elif any(p.start == start and p.end == end for p in phones):
                continue  # an ordinary ten-digit landline such as 0800 123456
            elif digits.startswith("7") and [len(g) for g in groups] in ([10], [4, 6], [4, 3, 3]):
                # A mobile typed without its 0.
                found.append(_Candidate("PHONE", start, end, "0" + digits))
            elif [len(g) for g in groups] in ([10], [3, 3, 4]):
                # An unlabelled ten-digit number is personal either way: most likely a mistyped
                # NHS number.
                found.append(_Candidate("NHS_NUMBER", start, end, digits))
        return found

    def _postcodes(self, text: str) -> list[_Candidate]:
        found = []
        for match in _POSTCODE_RE.finditer(text):
            value = f"{match.group(1).upper()} {match.group(2).upper()}"
            found.append(_Candidate("POSTCODE", match.start(), match.end(), value))
        for pattern in (_OUTWARD_CONTEXT_RE, _OUTWARD_AREA_RE, _OUTWARD_TWO_LETTER_RE):
            for match in pattern.finditer(text):
                outward = match.group("out")
                if outward.lower() in _NOT_OUTWARD:
                    continue
                area = re.match(r"[A-Za-z]+", outward)
                if area is None or area.group().lower() not in _POSTCODE_AREAS:
                    continue
                found.append(
                    _Candidate("POSTCODE", match.start("out"), match.end("out"), outward.upper())
                )
        return found

    def _dates(self, text: str) -> list[_Candidate]:
        """Dates of birth and due dates by cue, and every full date that has a year.

        A full date ("2nd August 1989", "12.1.86") in a parent's message is almost always a
        birthday or the day something happened to them: it narrows down who they are, and staff
        lose little without it. A day and month alone ("in may", "3rd june") are kept unless a
        cue ties them to a birth or a due date.
        """
        cues = [m.span() for m in _DATE_CUE_RE.finditer(text)]
        found = []
        for match in _DATE_RE.finditer(text):
            start, end = match.span()
            if not _has_year(match) and not self._date_has_cue(text, start, end, cues):
                continue
            value = _date_value(match)
            if value is not None:
                found.append(_Candidate("DATE", start, end, value))
        for match in _CUED_DAY_MONTH_RE.finditer(text):
            day, month = (int(n) for n in re.split(r"[/.\-]", match.group("d")))
            if month > 12 and day <= 12:
                day, month = month, day
            value = _date_key(day, month, None)
            if value is not None:
                found.append(_Candidate("DATE", match.start("d"), match.end("d"), value))
        for match in _COMPACT_DOB_RE.finditer(text):
            value = _compact_date_value(match.group("d"))
            if value is not None:
                found.append(_Candidate("DATE", match.start("d"), match.end("d"), value))
        return found

    @staticmethod
    def _date_has_cue(text: str, start: int, end: int, cues: list[tuple[int, int]]) -> bool:
        for cue_start, cue_end in cues:
            if cue_end <= start and start - cue_end <= 45:
                between = text[cue_end:start]
            elif end <= cue_start and cue_start - end <= 30:
                between = text[end:cue_start]
            else:
                continue
            if not _SENTENCE_BREAK_RE.search(between):
                return True
        return False

    def _addresses(self, text: str) -> list[_Candidate]:
        found = []
        for pattern, group in ((_ADDRESS_RE, 0), (_ADDRESS_CONTEXT_RE, "street")):
            for match in pattern.finditer(text):
                suffix = match.group("suffix").lower()
                if suffix in ("dr", "st"):
                    # "Dr"/"St" before a name is a title or a saint, not a street ("3 times dr patel").
                    following = _TOKEN_RE.match(text, match.end() + 1)
                    if following and text[match.end() : following.start()].isspace():
                        word = following.group().lower()
                        if word in _FIRST_NAMES or word in _SURNAMES:
                            continue
                start, end = match.span(group)
                words = re.findall(r"[\w']+", text[start:end].lower())
                value = " ".join(_ADDRESS_ABBREVIATIONS.get(w, w) for w in words)
                found.append(_Candidate("ADDRESS", start, end, value))
        return found

    # -- layers 2 and 3: people ----------------------------------------------------------------

    def _people(
        self, text: str, taken: list[_Candidate], state: RedactionState
    ) -> list[_Candidate]:
        tokens = [t for t in _tokenise(text) if not _overlaps(t.start, t.full_end, taken)]
        allowed = [m.span() for m in _ALLOWLIST_RE.finditer(text)]
        if allowed:
            tokens = [t for t in tokens if not _overlaps_spans(t.start, t.end, allowed)]
        if not tokens:
            return []
        by_start = {t.start: i for i, t in enumerate(tokens)}
        spans: dict[int, int] = {}  # first token index -> last token index, for named people
        roles: dict[int, str] = {}  # first token index -> CHILD, STAFF or PERSON
        cued: set[int] = set()

        # Cue phrases: "my son is X", "nurse X", "i'm X", ...
        for cue in _CUES:
            for match in cue.pattern.finditer(text):
                index = by_start.get(match.end())
                if index is None:
                    continue
                rel = match.groupdict().get("rel")
                if index in spans:
                    # Two cues for one name: "my daughter is called X" names a child.
                    if roles.get(index, "PERSON") == "PERSON":
                        roles[index] = _role_of_relation(rel, cue.role)
                    continue
                strength = cue.strength
                if cue.strength == _STRONG and _THING_CALLED_RE.search(
                    text, max(0, match.end() - 40), match.end()
                ):
                    strength = _WEAK
                if cue.signoff:
                    strength = _STRONG  # a word alone at the very end after "thanks," is a name
                following = tokens[index + 1] if index + 1 < len(tokens) else None
                if not self._accept(tokens[index], strength, following):
                    continue
                last = self._extend_surname(text, tokens, index, cue.fullname)
                if cue.signoff and not _SIGNOFF_TAIL_RE.fullmatch(text, tokens[last].full_end):
                    continue
                spans[index] = last
                cued.add(index)
                roles[index] = _role_of_relation(rel, cue.role)
                plural = rel is not None and rel.lower().replace(" ", "") in _PLURAL_RELS
                strength = _STRONG if plural else _WEAK
                for listed in self._extend_list(text, tokens, last, strength, spans):
                    roles[listed] = roles[index]

        # Names that are also words ("will", "penny", "ray"), where only a person fits.
        for index in range(len(tokens)):
            if index not in spans:
                found_role = _name_word_in_person_slot(text, tokens, index)
                if found_role is not None:
                    spans[index] = self._extend_surname(text, tokens, index, fullname=False)
                    roles[index] = found_role

        # "zayn's mum", "zayns mum", "Zayn is my son".
        for index, token in enumerate(tokens):
            if index in spans or index + 1 >= len(tokens):
                continue
            after = tokens[index + 1]
            if after.norm in _AFTER_POSSESSIVE and _gap_is_space(text, token, after):
                # "zayn's mum" names a child; "amira's appointment" most likely one too.
                roles[index] = "CHILD" if after.norm not in _ADULT_RELATIVES else "PERSON"
                if token.possessive and self._accept(token, _STRONG, None):
                    spans[index] = index
                elif (
                    not token.possessive
                    and token.norm.endswith("s")
                    and (
                        _is_known_first_name(token.norm[:-1])
                        # "zaydenns mum": the apostrophe left out before a parent word.
                        or (
                            after.norm in _PARENT_WORDS
                            and self._accept(replace(token, norm=token.norm[:-1]), _STRONG, None)
                        )
                    )
                ):
                    tokens[index] = replace(token, end=token.end - 1, norm=token.norm[:-1])
                    spans[index] = index
            elif (
                index + 3 < len(tokens)
                and tokens[index + 1].norm in ("is", "was")
                and tokens[index + 2].norm in ("my", "our", "his", "her", "their")
                and re.fullmatch(_REL_WORDS, tokens[index + 3].norm)
                and self._accept(token, _STRONG, tokens[index + 1])
            ):
                spans[index] = index
                roles[index] = _role_of_relation(tokens[index + 3].norm, "PERSON")

        # Names anywhere, unless part of a place's name: first names from the lists, "albies"
        # (a possessive typed without its apostrophe), and words no dictionary knows ("hiwet",
        # "kudakwashe"): a parent's message is mostly common words, so an unknown word is far
        # more often a name than anything else.
        inside = {i for first, last in spans.items() for i in range(first, last + 1)}
        for index, token in enumerate(tokens):
            if index in spans or index in inside:
                continue
            if not _is_known_first_name(token.norm):
                stem = token.norm[:-1]
                if (
                    token.norm.endswith("s")
                    and token.norm not in _ENGLISH_WORDS
                    and _is_known_first_name(stem)
                ):
                    tokens[index] = replace(token, end=token.end - 1, norm=stem)
                elif not _is_unknown_word(token):
                    continue
            if _is_town(tokens, index):
                continue
            last = self._extend_surname(text, tokens, index, fullname=False)
            if not _is_place_name(text, tokens, index, last):
                spans[index] = last

        # "Will and June's mum", "from Dmytro and Ray": a name-word listed beside a name.
        for _ in range(2):
            for index, token in enumerate(tokens):
                if index in spans or token.norm not in _AMBIGUOUS_NAMES:
                    continue
                if _listed_beside_name(text, tokens, index, spans):
                    spans[index] = index

        found: list[_Candidate] = []
        covered: set[int] = set()
        local: dict[str, str] = {}  # name token -> full name, for repeats within this message
        for first, last in sorted(spans.items()):
            if first in covered:
                continue
            indices = range(first, last + 1)
            covered.update(indices)
            value = _person_value(" ".join(tokens[i].norm for i in indices))
            role = roles.get(first, "PERSON")
            found.append(
                _Candidate("PERSON", tokens[first].start, tokens[last].end, value, None, role)
            )
            local.setdefault(value, value)
            for part in value.split():
                local.setdefault(part, value)
        # A name cued once in the message has that role wherever it appears in the message
        # ("zayn was sick, my son zayn...").
        role_of = {c.value: c.role for c in found if c.role != "PERSON"}
        found = [replace(c, role=role_of.get(c.value, c.role)) for c in found]

        # Later mentions, by name seen earlier in this message or (by digest) in the conversation.
        for index, token in enumerate(tokens):
            previous = tokens[index - 1] if index > 0 else None
            following = tokens[index + 1] if index + 1 < len(tokens) else None
            if index in covered or not _may_be_later_mention(token, previous, following):
                continue
            candidate = self._later_mention(token, local, role_of, state)
            if candidate is not None and not _is_place_name(text, tokens, index, index):
                found.append(candidate)
        return found

    @staticmethod
    def _accept(token: _Token, strength: int, following: _Token | None) -> bool:
        """Is the word after a cue of this strength a name?"""
        norm = token.norm
        if len(norm) < 2 or norm in _NEVER_NAME:
            return False
        if _is_known_first_name(norm) or norm in _SURNAMES_ONLY:
            return True
        if norm in _AMBIGUOUS_NAMES:
            if following is not None and following.norm in _VERB_AFTER_AMBIGUOUS:
                return False  # "nurse will see him", "my daughter may need"
            return strength >= _STRONG or (strength >= _WEAK and token.capitalised)
        if not _looks_like_name(norm, token.capitalised):
            return False
        return strength >= _STRONG or (strength >= _WEAK and token.capitalised)

    @staticmethod
    def _extend_surname(text: str, tokens: list[_Token], index: int, fullname: bool) -> int:
        """Index of the last token of the name starting at ``index`` ("Sarah Jane Jones")."""
        last = index
        for _ in range(2):
            if tokens[last].possessive or last + 1 >= len(tokens):
                break
            nxt = tokens[last + 1]
            if not _gap_is_space(text, tokens[last], nxt):
                break
            if nxt.norm in _NEVER_NAME and not (nxt.norm in _SURNAMES and nxt.capitalised):
                break
            if not _continues_name(nxt, fullname):
                break
            last += 1
        return last

    def _extend_list(
        self, text: str, tokens: list[_Token], last: int, strength: int, spans: dict[int, int]
    ) -> list[int]:
        """Take further names joined by "and", "&" or commas: "my twins Ayaan and Inaya".

        Returns the first token index of each name added to ``spans``.
        """
        added: list[int] = []
        for _ in range(6):
            if tokens[last].possessive:
                return added
            nxt = last + 1
            if nxt < len(tokens) and tokens[nxt].norm in ("and", "n"):
                if not _gap_is_space(text, tokens[last], tokens[nxt]):
                    return added
                nxt += 1
                if nxt >= len(tokens) or not _gap_is_space(text, tokens[nxt - 1], tokens[nxt]):
                    return added
            elif nxt >= len(tokens) or not _CONJUNCTION_RE.fullmatch(
                text, tokens[last].full_end, tokens[nxt].start
            ):
                return added
            following = tokens[nxt + 1] if nxt + 1 < len(tokens) else None
            if nxt in spans or not self._accept(tokens[nxt], strength, following):
                return added
            last = self._extend_surname(text, tokens, nxt, fullname=False)
            spans[nxt] = last
            added.append(nxt)
        return added

    def _later_mention(
        self,
        token: _Token,
        local: dict[str, str],
        role_of: dict[str, str],
        state: RedactionState,
    ) -> _Candidate | None:
        value = _person_value(token.norm)
        if value in local:
            full = local[value]
            return _Candidate(
                "PERSON", token.start, token.end, full, None, role_of.get(full, "PERSON")
            )
        if not state._names and not state._values:
            return None
        stems = [value]
        if value.endswith("s") and len(value) > 3 and value not in _AMBIGUOUS_NAMES:
            stems.append(value[:-1])  # "zayns" with the apostrophe left out
        for stem in stems:
            placeholder = self._remembered(state._values, "PERSON", stem) or self._remembered(
                state._names, "NAME", stem
            )
            if placeholder is not None:
                end = token.end - (len(value) - len(stem))
                return _Candidate("PERSON", token.start, end, stem, placeholder)
        return None

    # -- resolution and output ------------------------------------------------------------------

    @staticmethod
    def _resolve(candidates: list[_Candidate]) -> list[_Candidate]:
        """Keep non-overlapping candidates, preferring higher-ranked types, then longer spans."""
        ordered = sorted(
            candidates, key=lambda c: (_RANK.get(c.type, -1), c.start - c.end, c.start)
        )
        chosen: list[_Candidate] = []
        for candidate in ordered:
            if not _overlaps(candidate.start, candidate.end, chosen):
                chosen.append(candidate)
        return chosen

    def _apply(self, text: str, chosen: list[_Candidate], state: RedactionState) -> Redaction:
        pieces: list[str] = []
        entities: list[Entity] = []
        position = 0
        for candidate in sorted(chosen, key=lambda c: c.start):
            if candidate.type == "_KEEP":
                continue
            placeholder = self._placeholder(candidate, state)
            pieces.append(_safe_output(text[position : candidate.start]))
            pieces.append(placeholder)
            entities.append(Entity(candidate.type, placeholder, candidate.start, candidate.end))
            position = candidate.end
        pieces.append(_safe_output(text[position:]))
        return Redaction("".join(pieces), tuple(entities))

    def _placeholder(self, candidate: _Candidate, state: RedactionState) -> str:
        value_digest = self._digest(candidate.type, candidate.value)
        placeholder = candidate.placeholder or self._remembered(
            state._values, candidate.type, candidate.value
        )
        parts = candidate.value.split() if candidate.type == "PERSON" else []
        if placeholder is None and parts:
            # A full name whose first name is already known is the same person ("Sarah", then
            # "Sarah Jones").
            placeholder = self._remembered(state._names, "NAME", parts[0])
        if placeholder is None:
            kind = candidate.role if candidate.type == "PERSON" else candidate.type
            placeholder = state._new_placeholder(kind)
        state._values.setdefault(value_digest, placeholder)
        for part in parts:
            state._names.setdefault(self._digest("NAME", part), placeholder)
        return placeholder


def _safe_output(text: str) -> str:
    return _BIDI_CONTROL_RE.sub("", _CONTROL_RE.sub(" ", text))


def _matching_view(text: str) -> tuple[str, list[int] | None]:
    """``text`` with control characters as spaces and without invisible characters, and the index
    in ``text`` of each kept character.

    The positions are ``None`` when nothing was removed (the common case, at no cost).
    """
    text = _CONTROL_RE.sub(" ", text)
    if _INVISIBLE_RE.search(text) is None:
        return text, None
    positions = [i for i, char in enumerate(text) if not _INVISIBLE_RE.match(char)]
    return "".join(text[i] for i in positions), positions


def _overlaps(start: int, end: int, candidates: list[_Candidate]) -> bool:
    return any(start < c.end and c.start < end for c in candidates)


def _overlaps_spans(start: int, end: int, spans: list[tuple[int, int]]) -> bool:
    return any(start < e and s < end for s, e in spans)


def _continues_name(token: _Token, fullname: bool) -> bool:
    """Can ``token``, right after a name, be its surname or middle name?"""
    if token.norm in _SURNAMES_ONLY:
        return True
    if token.capitalised and not token.sentence_initial:
        return (
            _is_known_first_name(token.norm)
            or token.norm in _AMBIGUOUS_NAMES
            or token.norm in _SURNAMES  # "Sarah White", "Sophie Ward"
            or _looks_like_name(token.norm, capitalised=True)
        )
    if token.norm in _SURNAMES and fullname:
        return True  # "our hv paulette grant"
    if _is_unknown_word(token, typos=False):
        return True  # "kitty kovac", "hibaaq egal": no dictionary word follows a name
    # Lowercase unknown words extend a name only after a cue that introduces a whole name
    # ("my name is sarah okafor"); after "my son zayn" the next word is usually a verb.
    return (
        fullname
        and token.norm not in _AMBIGUOUS_NAMES
        and (_is_known_first_name(token.norm) or _looks_like_name(token.norm, capitalised=False))
    )


def _gap_is_space(text: str, left: _Token, right: _Token) -> bool:
    gap = text[left.full_end : right.start]
    return gap.isspace() and "\n" not in gap


def _may_be_later_mention(token: _Token, previous: _Token | None, following: _Token | None) -> bool:
    """Cheap filter before computing digests: common words are never repeated names."""
    if token.norm in _NEVER_NAME or len(token.norm) < 2:
        return False
    if token.norm not in _AMBIGUOUS_NAMES:
        return True
    # After "nurse Will", a later "will" is still mostly the verb: "Will you call", "i will".
    if token.possessive:
        return True
    if following is None or following.norm in _VERB_AFTER_AMBIGUOUS or following.norm in _PRONOUNS:
        return False
    if token.capitalised:
        return True
    # Lowercase: only as the subject of a past or present verb, not after "my", "i", "the"...
    return following.norm in _NAME_VERBS and (previous is None or previous.norm not in _PRONOUNS)


def _is_place_name(text: str, tokens: list[_Token], first: int, last: int) -> bool:
    """Is this name part of a hospital, ward or street name ("St Mary's", "Rosie Hospital")?"""
    if first > 0 and tokens[first - 1].norm in _PLACE_PREFIXES:
        gap = text[tokens[first - 1].full_end : tokens[first].start]
        if gap.strip(" .") == "":
            return True
    if tokens[last].possessive:
        return False
    # Parents drop "to" ("took zayn hospital"), so a lowercase name before a facility word is
    # still a person unless "the" shows it is a place's name ("the rosie hospital").
    after_the = first > 0 and tokens[first - 1].norm == "the"
    if not (tokens[first].capitalised or after_the):
        return False
    index = last + 1
    while index < len(tokens) and index <= last + 3:
        token = tokens[index]
        if token.norm in _FACILITY_WORDS:
            return True
        if token.norm in _NEVER_NAME:  # "zayn loved the hospital" is not a hospital's name
            return False
        index += 1
    return False


# --------------------------------------------------------------------------------------------------
# CLI helper
# --------------------------------------------------------------------------------------------------


def redact_stream(lines: Iterable[str], key: bytes, as_json: bool) -> Iterator[str]:
    """For `parentvoice redact`: one output line per input line, in order.

    The trailing newline of each input line is stripped; outputs carry none (the caller adds it).
    Plain mode yields the redacted text; JSON mode yields
    ``{"text": ..., "entities": [{"type", "placeholder", "start", "end"}]}`` with offsets into the
    input line. All lines share one ``RedactionState``: stdin is treated as one conversation.
    """
    redactor = Redactor(key)
    state = RedactionState()
    for line in lines:
        if line.endswith("\n"):
            line = line[:-1]
        if line.endswith("\r"):
            line = line[:-1]
        result = redactor.redact(line, state)
        if not as_json:
            yield result.text
            continue
        entities = [
            {"type": e.type, "placeholder": e.placeholder, "start": e.start, "end": e.end}
            for e in result.entities
        ]
        yield json.dumps({"text": result.text, "entities": entities}, ensure_ascii=False)
