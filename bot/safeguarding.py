"""Safeguarding: does a parent's message say that they or a child may be in danger?

Checked on the raw text of every message, in memory, before anything is stored: a missed
disclosure is far worse than an unneeded signposting message, so the check is built for recall.
Three layers, any of which raises a category:

1. curated patterns per category, written for the indirect ways people say these things ("the kids
   would be better off without me", "he checks my phone and won't let me see my mum"), applied
   after everyday idioms are taken out ("i'd kill for an evening slot", "my back is killing me");
2. a classifier trained on the project's examples (``nlu/insight/risk.yml``), for phrasings no
   pattern foresaw. It runs in the app, not in Rasa, because it must read the raw text before
   redaction and must work when Rasa is down;
3. Rasa's own NLU signal: the chat's model has a ``disclosure_<category>`` intent per category,
   trained on the same examples redacted (``nlu/data/disclosures.yml``, generated), and the app
   reads their confidence from each turn (``rasa_categories``). It sees only redacted text and
   only answers when Rasa is up, so it adds to layers 1 and 2 and never replaces them.

Categories, most urgent first (the order replies are sent in): medical_emergency, self_harm,
perinatal_mental_health, domestic_abuse, child_at_risk.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable, Sequence
from pathlib import Path

__all__ = ["CATEGORIES", "Safeguarding", "check", "patterns_match"]

CATEGORIES = (
    "medical_emergency",
    "self_harm",
    "perinatal_mental_health",
    "domestic_abuse",
    "child_at_risk",
)

# Layer 3 runs in Rasa: its NLU model has one intent per category (trained on the same examples as
# layer 2, redacted as Rasa will see them), and the app reads their confidence from every turn.
DISCLOSURE_INTENT_PREFIX = "disclosure_"
DISCLOSURE_INTENTS = tuple(DISCLOSURE_INTENT_PREFIX + c for c in CATEGORIES)

_KID = (
    r"(?:baby|babies|bubba|newborn|lo|little one|child|children|kids?|son|daughter|ds|dd|boy|girl|"
    r"toddler|twins?|him|her|them|he|she|they|my \d+ ?(?:yo|year old|yr old|month old|week old))"
)
_KID_NOUN = (
    r"(?:baby|babies|bubba|newborn|little one|child|children|kids?|son|daughter|boy|girl|"
    r"toddler|twins?|\d+ ?(?:yo|year old|yr old|month old|week old))"
)
_PARTNER = (
    r"(?:partner|husband|hubby|wife|boyfriend|girlfriend|bf|gf|fiance|fiancee|ex|other half|"
    r"baby'?s dad|baby'?s father|kids'? dad|the dad|their dad|his dad|her dad|he|she)"
)
_AGE_UNDER_3_MONTHS = (
    r"(?:(?:[1-9]|1[0-2]) ?(?:weeks?|wks?|wk|w)\b|(?:[1-9]|[1-8]\d|90) ?(?:days?|d)\b|"
    r"(?:[12]|two|one) ?(?:months?|mths?|mnths?)\b|newborn|new born|(?:1[0-9]|[2-9]\d) ?hours? old)"
)

# "she hit me with a rattle haha": a baby or toddler, not a partner.
_PLAYFUL = (
    r"(?! (?:in the face )?with (?:a|his|her) (?:toy|rattle|spoon|book|bottle|block))"
    r"(?![^.!?]{0,40}\b(?:haha|lol|he's strong|she's strong|toddler|nursery))"
)
# Everyday idioms that use the same words: removed before the patterns run.
_IDIOMS = re.compile(
    r"\b(?:i'?d|would|could) (?:kill|murder) (?:for|a)\b|"
    r"\b(?:back|feet|head|legs?|knees?|boobs?|nipples?|stitches|scar|teeth|wait|waiting|"
    r"this|traffic|parking|heat|queue|noise|commute) (?:is|are|was|were) (?:killing|murdering) me\b|"
    r"\b(?:dying|dyin|gasping) (?:for|to)\b|\bto die for\b|\b(?:nearly |almost )?died laughing\b|"
    r"\bfit of (?:the )?giggles\b|\bfits? (?:in|of laughter|right in)\b|\bfitting in\b|"
    r"\bdrives? me (?:mad|crazy|insane|up the wall)\b|\bgo(?:ing)? mad\b|"
    r"\bkill(?:ing)? (?:time|two birds)\b|\bkiller\b|\bhit the (?:roof|ceiling|sack|hay)\b|"
    r"\b(?:a |the )?nightmare\b|\bscared (?:of|about) (?:needles|the dentist|spiders|injections)\b|"
    r"\bshot (?:down|up|through)\b|\bbeat (?:the|me to)\b|\bblue (?:badge|light|book|peter)\b|"
    r"\b(?:glass|tumbler) test\b.{0,40}\b(?:faded|fades|went away|disappeared)\b"
)
# A question staff asked and the parent answered no to, or help already in place, is not a
# disclosure: "she asked if i had thoughts of harming myself, i don't".
_ASKED_AND_DENIED = re.compile(
    r"\b(?:asked|ask|asks|asking)\b(?:(?!\b(?:cos|because|but|as he|as she|when he|since he|"
    r"only because|with him)\b)[^!?]){0,120}\b(?:i (?:don't|do not|didn't|haven't|have not)|"
    r"i said no|no i|i'm not)\b"
)
# Advice given and conditions that never happened: "we were told to ring 999 if she went floppy",
# "told to watch for blue lips, never happened", "i'm not suicidal".
_ADVICE_AND_NEGATION = re.compile(
    r"\b(?:told|advised|shown|taught|explained|leaflet|video|talk|poster|training|course)"
    r"\b[^.!?]{0,20}\b(?:to |about |how to |on )?(?:look out|watch|ring|call|check|spot|what to "
    r"do|signs)\b[^.!?]*|\bif (?:he|she|they|the baby|baby|it) (?:ever )?(?:goes|went|gets|got|"
    r"has|had|is|was|became|becomes|starts?|stops?)\b[^.!?]*|\b(?:i'm|i am|not) not (?:suicidal|"
    r"self harming)\b|\bnot (?:suicidal|self[- ]harming)\b|\bshaken baby\b|\bcoping with "
    r"crying\b|\bnever shak\w+\b"
)

_PATTERNS: dict[str, tuple[str, ...]] = {
    "medical_emergency": (
        rf"\b{_AGE_UNDER_3_MONTHS}\b[^.!?]{{0,60}}\b(?:3[89](?:\.\d)?|4[0-2](?:\.\d)?) ?(?:c|°c|degrees?)?\b",
        rf"\b(?:3[89](?:\.\d)?|4[0-2](?:\.\d)?) ?(?:c|°c|degrees?)?\b[^.!?]{{0,60}}\b{_AGE_UNDER_3_MONTHS}",
        rf"\b{_AGE_UNDER_3_MONTHS}[^.!?]{{0,50}}\b(?:fever|burning up|boiling|"
        r"hot to (?:the )?touch|feels? (?:really |very |so )?hot|high temp)",
        r"\b(?:not|isn't|isnt|stopped|stops|struggling|can't|cannot|cant|hard|difficult(?:y)?) "
        r"(?:to )?breath(?:e|ing)\b",
        r"\bbreathing (?:funny|fast|weird|strange|noisy|badly|heavy|hard|is bad)\b|"
        r"\b(?:pauses?|pausing|stops?) (?:in|when) (?:his |her )?breathing\b",
        r"\b(?:chest|ribs|tummy|neck) (?:is |are )?(?:caving|sucking|pulling) in\b|"
        r"\bsucking in under (?:his|her|the) ribs\b|\bwheez\w* (?:badly|loads)\b|"
        r"\bgrunting (?:noise|sound|when (?:she|he) breathes|with (?:every|each) breath)\b",
        r"\b(?:lips?|tongue|face|skin) (?:\w+ ){0,3}(?:blue|grey|gray|purple|mottled)\b|"
        r"\b(?:blue|grey|gray) (?:lips|tinge|around (?:the|his|her) (?:mouth|lips))\b|\bmottled\b",
        r"\b(?:floppy|limp|lifeless|unresponsive|not responding|won't wake|wont wake|"
        r"can't wake|cant wake|hard to wake|difficult to wake|keeps passing out|passed out|"
        r"knocked out|unconscious|lost consciousness)\b",
        r"\b(?:having|had|has|in) (?:a |another |her first |his first )?(?:febrile )?"
        r"(?:fit|seizure|convulsion)\b"
        r"(?![^.!?]{0,40}\b(?:years? ago|months ago|last (?:year|winter|summer)|when (?:she|he) "
        r"was))|\bfitting\b|"
        r"\b(?:seizing|convulsing|twitching and staring|eyes rolled?(?: back)?)\b|"
        r"\b(?:fit|seizure|convulsion) (?:now|again|just now|right now|for \d+)",
        r"\brash\b[^.!?]{0,60}\b(?:doesn't|does not|doesnt|didn't|won't|wont|not|isn't|never)\b"
        r"[^.!?]{0,20}\b(?:fade|go away|disappear|blanch)",
        r"\bnon[- ]?blanching\b|\bpurple (?:spots|rash|blotches)\b|\bpin ?prick (?:spots|rash)\b",
        r"\b(?:swallowed|ate|eaten|drank|drunk|chewed|got into|licked|(?:had|took|taken|given|gave "
        r"(?:her|him)) (?:too much|too many|a whole|the whole|loads of|double))\b[^.!?]{0,30}"
        r"\b(?:pills?|tablets?|paracetamol|calpol|ibuprofen|medicine|meds|bleach|dishwasher "
        r"(?:tablet|pod)|washing (?:tablet|pod|capsule)|laundry (?:pod|capsule)|chemicals?|"
        r"cleaner|button batter\w+|batter(?:y|ies)|magnets?|vape|e-?liquid|weed|cannabis)\b",
        r"\b(?:only |just |no |hasn't had a |hasnt had a |not had a )?(?:1|one|2|two|no) wet "
        r"nappies?\b[^.!?]{0,40}\b(?:today|since|all day|in \d+|24)",
        r"\b(?:not|isn't|isnt|won't|wont|hasn't|hasnt|stopped|refusing)\b[^.!?]{0,15}\b"
        r"(?:feeding|fed|feed|drinking|taking (?:any )?milk)\b[^.!?]{0,60}\b"
        r"(?:wet nappies|nappy|sleepy|floppy|hot|temp|fever|breath)",
        r"\b(?:banged|hit|bumped|fell)\b[^.!?]{0,60}\b(?:head)\b[^.!?]{0,80}\b(?:sick|vomit\w*|"
        r"drowsy|sleepy|confused|won't wake|knocked out|blood from)\b",
        r"\b(?:fell|fallen|dropped)\b[^.!?]{0,60}\b(?:sick|vomit\w*|drowsy|sleepy|knocked out)\b",
        r"\b(?:vomiting|throwing up|coughing up|sick(?:ing)? up) blood\b|\bblood in (?:his|her) "
        r"(?:sick|vomit)\b|\bgreen (?:sick|vomit)\b",
        r"\b(?:sunken|dry) (?:eyes|fontanelle|soft spot)\b|\bsoft spot (?:is )?sunken\b",
        r"\b(?:swelling|swollen) (?:lips|tongue|face|throat)\b|\b(?:lips|tongue|face|throat) "
        r"(?:is |are )?(?:swelling|swollen)\b|\banaphyla\w+\b",
        r"\b(?:yellow|jaundiced)\b[^.!?]{0,40}\b(?:(?:1\d|2[0-3]) hours? old|first day|day one)\b",
        r"\b(?:ambulance|999)\b[^.!?]{0,30}\b(?:now|coming|on (?:its|the) way|called)\b",
        r"\b(?:moaning|high[- ]pitched) (?:noise|cry|crying)\b|\bstiff neck\b",
    ),
    "self_harm": (
        r"\b(?:kill|killing|hurt|hurting|harm|harming|cut|cutting|end|ending) (?:my ?self|me|"
        r"him ?self|her ?self|themselves)\b",
        r"\b(?:i'm|i am|feel(?:ing)?|been|is|was|she's|he's|getting|so|really) suicidal\b|"
        r"\bsuicid\w* (?:thoughts|plan|note|attempt)\b|\b(?:attempted|tried) suicide\b|"
        r"\b(?:i|i've|i'm|been|keeps?|kept|started|she's|he's|is|was|has been) (?:\w+ ){0,2}"
        r"self[- ]?harm\w*\b|\bself[- ]?harm(?:ing|ed) (?:again|since|every)\b|"
        r"\boverdos(?:e|ed|ing)\b(?! (?:advice|leaflet|information))",
        r"\b(?:end|ending|take|taking) (?:it all|my (?:own )?life|things|it)\b",
        r"\b(?:better off|be better|happier|fine) (?:\w+ ){0,2}without me\b",
        r"\b(?:don't|do not) (?:want|wanna) (?:to )?(?:be (?:here|alive|around)|live|"
        r"exist|wake up|go on|carry on)\b(?! (?:all day|for hours|waiting|in (?:a|the)|at (?:a|the)))",
        r"\b(?:no|not any|isn't a|there's no|can't see the|don't see the|don't see a|what's the) "
        r"(?:point|reason|future|way out)(?: (?:in|of) (?:me|living|life|going on|carrying on|"
        r"anything|it all|being here)|\s*(?:[.!?]|$)| for me| anymore| any more)",
        r"\bwant(?:ed)? (?:to )?die\b|\bwish (?:i was|i were|i'd) (?:dead|never born|gone)\b|"
        r"\bwish i (?:could )?(?:disappear|not wake up|didn't wake up)\b",
        r"\b(?:want|need) (?:it all|everything|the pain|this|the world) to (?:stop|end)\b|"
        r"\bjust want out\b|\bwant out for good\b|\bwant to not exist\b|\bnot exist\b",
        r"\b(?:can't|cant|cannot) (?:go on|keep going|do this any ?more|cope any ?more|take any ?more|"
        r"keep myself safe|carry on)\b|\b(?:don't|dont) think i can (?:keep going|go on|carry on)\b",
        r"\b(?:saving|stockpil\w+|hoard\w*|collecting) (?:up )?(?:my )?(?:pills|tablets|meds)\b|"
        r"\btook too many\b|\btook (?:all|a load of|loads of) (?:my |the )?(?:pills|tablets)\b",
        r"\b(?:train tracks|bridge|jump(?:ing)? off|in front of a (?:train|bus|car)|"
        r"driv(?:e|ing) (?:the car )?(?:into|off)|crash(?:ing)? the car|step(?:ping)? out in front)\b",
        r"\b(?:rope|noose|hang(?:ing)? myself|razor|blades?)\b",
        r"\bdo something (?:stupid|to myself)\b|\bnot be here (?:much longer|by|for)\b|"
        r"\b(?:i'll|ill|i will) be gone\b|\bgoodbye (?:note|letter)\b",
        r"\b(?:punch(?:ing)?|bang(?:ing)?|hit(?:ting)?|scratch(?:ing)?|burn(?:ing)?) "
        r"(?:my (?:head|arms?|legs?)|walls?|myself)\b",
        r"\b(?:had|have) enough of (?:life|everything|living)\b|\bnothing (?:will )?(?:ever )?"
        r"get(?:s)? better\b|\btired of (?:living|life|being alive)\b",
    ),
    "perinatal_mental_health": (
        r"\b(?:thoughts?|thinking|images?|pictures|urges?|urge) (?:\w+ ){0,5}(?:harm\w*|hurt\w*|"
        r"kill\w*|drown\w*|smother\w*|suffocat\w*|stab\w*|drop\w*|shak\w*|throw\w*) "
        r"(?:\w+ ){0,2}(?:baby|her|him|them|the baby|my baby|my son|my daughter)\b",
        r"\b(?:harm|hurt|kill|drown|smother|suffocate|stab|drop|shake|throw) (?:\w+ ){0,2}"
        r"(?:the baby|my baby|him|her)\b",
        r"\b(?:don't|dont|can't|cant|cannot) (?:trust myself|keep (?:her|him|the baby|them) safe)\b|"
        r"\b(?:a danger|dangerous) to (?:my |the )?(?:baby|him|her|them)\b|"
        r"\bscared (?:of )?what i (?:might|could|will) do\b",
        r"\b(?:hearing|hear) (?:voices|a voice|things)\b|\bthe voices\b|\bvoices? (?:tell|telling|say)\b|"
        r"\b(?:people|they|someone|everyone) (?:are |is )?(?:watching|poisoning|following|after) "
        r"(?:us|me|the baby)\b|\bputting (?:things|something|stuff|poison) in (?:her|his|my|the "
        r"baby's|our) (?:milk|food|bottles?|drinks?)\b|\b(?:possessed|the devil|evil)\b[^.!?]{0,30}\bbaby\b|"
        r"\bbaby\b[^.!?]{0,30}\b(?:possessed|the devil|evil|isn't mine|isnt mine|not mine|"
        r"replaced|swapped)\b|\bthings that aren't real\b|\bnot real\b",
        r"\b(?:haven't|havent|not) slept (?:in|for) (?:\d+|two|three|four|days)\b",
        r"\b(?:not fit|unfit) to be a (?:mum|mother|mam|parent)\b|\bshould take (?:him|her|them|the "
        r"baby) (?:off|away from) me\b|\bgive (?:her|him|the baby) (?:back|away)\b",
        r"\bleave (?:him|her|the baby) (?:outside|somewhere|at the hospital)\b|"
        r"\bwalk(?:ed)? out (?:and|of the house)\b[^.!?]{0,40}\b(?:baby|cot)\b|"
        r"\bleaving and never coming back\b|\bwish i'd never had (?:him|her|them|the baby)\b",
        r"\b(?:since|after) (?:the )?(?:birth|baby)\b[^.!?]{0,60}\b(?:losing my mind|going mad|"
        r"can't cope|cant cope|hopeless|no point|dark place|not ok|don't want to be here)\b",
        r"\bintrusive thoughts\b|\bpostnatal psychosis\b|\bpuerperal psychosis\b|"
        r"\bjump(?:ing)? with the baby\b",
    ),
    "domestic_abuse": (
        rf"\b{_PARTNER} (?:\w+ ){{0,2}}(?:hit|hits|hitting|beat|beats|beating|punch\w*|kick\w*|"
        r"slap\w*|push\w*|shov\w*|strangl\w*|chok\w*|grab\w*|spat|spits|throws things|threw|"
        r"threatens?|threatened|rap\w+|forced|forces|burn\w*|bit) (?:me|at me|my)\b" + _PLAYFUL,
        r"\b(?:hit|hits|beat|beats|punched|kicked|slapped|pushed|strangled|choked|grabbed|spat at|"
        r"threw|pinned) me\b" + _PLAYFUL,
        r"\b(?:next time|or else)\b[^.!?]{0,30}\b(?:end up in hospital|kill|hurt|won't be so lucky)\b",
        r"\bdomestic (?:violence|abuse)\b[^.!?]{0,40}\b(?:me|i'm|im|my|i am|we)\b|"
        r"\b(?:i'm|im|i am) (?:being )?(?:abused|in an abusive)\b|\babusive (?:relationship|partner)\b"
        r"[^.!?]{0,30}\b(?:i'm|im|i am|still|now)\b",
        r"\b(?:scared|frightened|terrified|afraid) (?:of (?:him|her|my (?:partner|husband|wife|"
        r"boyfriend|girlfriend|ex|fiance))|to go home|to leave|what he|he'll|he will)\b",
        r"\b(?:not|don't feel|dont feel) safe (?:at home|with (?:him|her|my))\b|\bnot safe at home\b",
        r"\b(?:kill|hurt) me if i (?:leave|left|tell|told)\b|\bif i (?:leave|left|tell|told)\b"
        r"[^.!?]{0,40}\b(?:kill|hurt|take the (?:baby|kids|children)|never see)\b",
        r"\b(?:checks?|reads?|goes through|tracks?|listens to) my (?:phone|messages|texts|calls|location)\b|"
        r"\b(?:won't|doesn't|does not|never) let me (?:see|go (?:out|to|anywhere)|leave|talk|out)"
        r"\b(?: (?:my|his|her|anyone|friends|family|people|the house|alone|on my own))|"
        r"\b(?:stops|stopped|stopping) me (?:from )?(?:seeing|going|talking|leaving)\b",
        r"\b(?:controls?|takes?|took) (?:all )?(?:my|the) money\b|\bgives me an allowance\b|"
        r"\bbeg (?:him )?for (?:money|nappies)\b",
        r"\b(?:says|said|calls|tells) (?:me )?(?:i'm|im|i am) (?:worthless|useless|nothing|crazy|"
        r"mad|a bad mum)\b|\bmakes me (?:feel|think) (?:i'm|im) (?:going )?crazy\b",
        r"\b(?:said|say) (?:yes|i'm fine|i was fine|i'm ok|no)\b[^.!?]{0,30}\b(?:he|she) (?:was|is) "
        r"(?:sat |sitting |stood |standing )?(?:right )?(?:next to|beside|with|in the room|there)\b|"
        r"\blistens to (?:everything|all my|my calls|my phone)\b|\bcan't (?:talk|speak)\b[^.!?]{0,40}"
        r"\b(?:he|she) (?:listens|hears|checks|is here|is in the room|reads)\b|"
        r"\b(?:smashed|broke|took) my phone\b|\b(?:called|rang) the police on (?:him|her)\b|"
        r"\bhe'?d go mad if he knew\b|\bcan't talk (?:now|,)? (?:he's|hes|she's) (?:here|in the room)\b|"
        r"\b(?:follows|followed) me\b|\blocked me (?:in|out)\b|\bkicked (?:me|us) out\b",
        r"\b(?:fled|left|escaped) (?:him|in the night)\b[^.!?]{0,50}\b(?:doesn't|doesnt|won't|wont) "
        r"know where\b|\b(?:in|at|to|into|going to|moved to|staying in|place in) (?:a )?refuge\b",
        r"\b(?:bruises?|black eye|marks)\b[^.!?]{0,40}\b(?:he|she|my partner|my husband|from him)\b",
    ),
    "child_at_risk": (
        rf"\b(?:hit|hits|hitting|beat|beats|beating|punch\w*|kick\w*|slap\w*|shak(?:e|es|ing)|"
        rf"shook|throw\w*|threw|burn\w*|grab\w*|strangl\w*|chok\w*|smack\w* (?:her|him) hard|"
        rf"lock\w* (?:her|him|them) (?:in|out)) (?:(?:my|the|our|his|her|their) (?:\w+ )?{_KID_NOUN}|"
        rf"him|her|them)\b",
        rf"\b{_KID}\b[^.!?]{{0,50}}\b(?:bruis\w*|burns?|marks|black eye|broken (?:arm|leg|bone))\b",
        r"\b(?:bruis\w*|burns?|marks|black eye)\b[^.!?]{0,60}\b(?:daddy|mummy|dad|mum|step ?\w+|"
        r"uncle|grandad|he|she|they) did (?:it|this|that)\b",
        r"\b(?:bruis\w*|burns?|fingertip marks|grab marks|broken (?:arm|leg|bone))\b[^.!?]{0,60}"
        r"\b(?:can't even|cant even|says|said|accident|don't believe|dont believe|rolled|fell|how it|"
        r"explain\w*)\b",
        r"\b(?:touch\w*|touches) (?:\w+ ){0,2}(?:inappropriately|private|down (?:her|his) pants|"
        r"where (?:she|he) shouldn't)\b|\b(?:sexual|sexually|abus\w+|groom\w*|porn|naked|nude)\b"
        r"[^.!?]{0,40}\b(?:my|her|his|the) (?:\d+ ?(?:yo|year old) )?(?:son|daughter|child|kids?|"
        r"girl|boy|grand\w+)\b",
        r"\b(?:pictures|photos|pics)\b[^.!?]{0,40}\b(?:asking|asked|sent|send)\b|\b(?:asking|asked)\b"
        r"[^.!?]{0,30}\b(?:for )?(?:pictures|photos|pics)\b|\b(?:older|grown) (?:man|men|lads|boys)\b"
        r"[^.!?]{0,60}\b(?:online|cars?|money|gifts?|phone|trainers|houses|flat)\b",
        r"\b(?:running|selling|holding|dealing|deals|carrying|moving) (?:drugs|packages?|a package)\b|"
        r"\bcounty lines\b|\bpeople he deals for\b|\bgoing missing\b|\bbeen missing\b|\bmissing since\b",
        r"\b(?:left|leave|leaves|leaving) (?:\w+ ){0,2}(?:kids?|children|baby|him|her|them|the "
        r"little ones?) (?:\w+ ){0,2}(?:alone|on (?:their|his|her) own|home alone|by (?:themselves|"
        r"himself|herself)|for (?:days|hours|\d+ days|the night))\b|\bhome alone\b|"
        r"\b(?:left|leave|leaves|leaving) (?:on (?:their|his|her) own|alone|by (?:themselves|"
        r"himself|herself))\b[^.!?]{0,30}\b(?:overnight|all night|for (?:days|hours|the night|the "
        r"weekend)|while)\b",
        r"\b(?:haven't|havent|not|no) (?:had )?(?:a )?(?:proper )?(?:meals?|food|eaten)\b[^.!?]{0,30}"
        r"\b(?:kids|children|days|a week|in days)\b|\bno food (?:in|for)\b",
        r"\b(?:shake|shakes|shaking|shook) (?:the |my )?(?:baby|her|him)\b|"
        r"\bhand over (?:her|his) mouth\b|"
        r"\bthrows? the baby\b|\bgrabs? the baby\b|\bpillow over\b",
        r"\b(?:scared|frightened|terrified) (?:of|to go (?:home|to)) (?:her|his|their) "
        r"(?:dad|mum|step ?\w+|uncle|grandad)\b|\b(?:step ?dad|step ?mum|dad|mum|uncle)\b"
        r"[^.!?]{0,30}\b(?:hits|kicks|beats|hurts|touches|locks)\b",
        r"\b(?:drunk|high|off (?:his|her|their) face|on drugs|using)\b[^.!?]{0,40}\b(?:looking after|"
        r"with the (?:kids|baby|children)|in charge)\b|\bwon't let me take (?:him|her) to\b",
        r"\b(?:hurt|harm) the (?:kids|children|baby)\b|\btake (?:the kids|the children|the baby) "
        r"(?:abroad|away)\b",
        r"\b(?:won't|doesn't|does not|never) let (?:the )?(?:hv|health visitor|midwife|social worker|"
        r"nurse|anyone|them|school) (?:in|see (?:her|him|them|the baby))\b|\b(?:not|haven't|never|"
        r"stopped) (?:taken|took|taking) (?:her|him|them|the baby|the kids) to (?:any )?"
        r"(?:appointments|jabs|the doctor|the gp|hospital)\b[^.!?]{0,40}\b(?:since|months|won't|"
        r"wont|let)\b",
        r"\b(?:can't remember the last time|haven't|have not|not)\b[^.!?]{0,30}\b(?:had a bath|"
        r"been bathed|clean clothes|been washed|been fed|had a proper meal)\b|"
        r"\b(?:uses|using|on|addicted to|taking) (?:heroin|crack|cocaine|coke|meth|smack|drugs)\b"
        r"[^.!?]{0,50}\b(?:baby|kids|children|son|daughter)\b|\b(?:baby|kids|children|son|"
        r"daughter)\b[^.!?]{0,50}\b(?:uses|using|on) (?:heroin|crack|cocaine|coke|meth|smack)\b|"
        r"\b(?:sober|straight) enough to (?:look after|care for|mind|feed)\b|\b(?:drunk|wasted|"
        r"high|off (?:our|their|his|her) faces?)\b[^.!?]{0,40}\b(?:nobody|no one|no-one) "
        r"(?:to )?(?:look(?:ing)? after|watch(?:ing)?|with) (?:the )?(?:baby|kids|children)\b",
    ),
}

_COMPILED = {
    category: [re.compile(pattern) for pattern in patterns]
    for category, patterns in _PATTERNS.items()
}


_TEXTING = {
    "im": "i'm", "ive": "i've", "dont": "don't", "cant": "can't", "wont": "won't",
    "didnt": "didn't", "doesnt": "doesn't", "isnt": "isn't", "hasnt": "hasn't",
    "havent": "haven't", "wasnt": "wasn't", "shes": "she's", "hes": "he's", "u": "you",
    "ur": "your", "ill": "i'll", "id": "i'd", "whats": "what's", "theres": "there's",
    "ppl": "people", "w": "with", "wiv": "with", "bf": "boyfriend", "abt": "about",
    "bout": "about",
}  # fmt: skip
_WORD_RE = re.compile(r"[a-z']+")


def _prepared(text: str) -> str:
    """Lowercase, plain apostrophes, no accents, texting spellings expanded (punctuation and
    numbers kept: "38.2" is a temperature), with the everyday idioms taken out."""
    text = text.lower().replace("’", "'").replace("‘", "'")
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    text = _WORD_RE.sub(lambda m: _TEXTING.get(m.group(), m.group()), text)
    return _IDIOMS.sub(" ", text)


def patterns_match(text: str) -> tuple[str, ...]:
    """The categories whose patterns match ``text`` (layer 1), most urgent first: the English
    patterns, and the phrase lists of the other languages."""
    prepared = _ADVICE_AND_NEGATION.sub(" ", _ASKED_AND_DENIED.sub(" ", _prepared(text)))
    found = {c for c in CATEGORIES if any(p.search(prepared) for p in _COMPILED[c])}
    found |= set(phrases_match(text))
    return tuple(c for c in CATEGORIES if c in found)


def _folded(text: str) -> str:
    """Lower case, without accents or Arabic vowel marks, spaces collapsed: how people type."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    kept = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(kept.replace("ł", "l").split())


@functools.cache
def _phrases() -> tuple[tuple[str, re.Pattern[str]], ...]:
    """(category, whole-phrase pattern) from bot/wordlists/safeguarding_phrases.tsv: Polish,
    Romanian, Urdu, Bengali and Arabic, as drafted by translators (review before live use)."""
    path = Path(__file__).parent / "wordlists" / "safeguarding_phrases.tsv"
    found = []
    for line in path.read_text(encoding="utf-8").splitlines() if path.exists() else []:
        parts = line.split("\t")
        if line.startswith("#") or len(parts) != 3 or parts[1] not in CATEGORIES:
            continue
        phrase = _folded(parts[2])
        if phrase:
            found.append((parts[1], re.compile(rf"(?<!\w){re.escape(phrase)}(?!\w)")))
    return tuple(found)


def phrases_match(text: str) -> tuple[str, ...]:
    """The categories whose phrases (in languages other than English) occur in ``text``."""
    folded = _folded(text)
    found = {category for category, pattern in _phrases() if pattern.search(folded)}
    return tuple(c for c in CATEGORIES if c in found)


# The classifier's "risk" probability from which a message is flagged, chosen on the eval set's
# dev split only (make eval-insight). It was the highest value that caught every dev disclosure.
# Since the everyday answers in risk_answers.yml were added, dev recall stays 1.0 up to 0.8; we
# keep 0.4 on purpose: a margin below the cut is worth more here than the false alarms a higher
# cut would save (dev hard-benign false alarms 0.043 at 0.4, 0.025 at 0.8).
CLASSIFIER_THRESHOLD = 0.4

# Layer 3 (Rasa's NLU, on the redacted text) flags a category from this confidence, chosen on the
# dev split: the lowest cut at which layer 3 on its own flags at most 1% of the hard benign
# messages (0.006 at 0.95; 0.031 at 0.8 once the chat model also learned five more languages).
# Layers 1 and 2 already catch every dev disclosure, so this layer is a high-precision net for
# phrasings neither has seen; measured, it adds no recall on the project's sets (make eval-insight).
RASA_THRESHOLD = 0.95


def rasa_categories(
    ranking: Sequence[dict[str, object]], threshold: float = RASA_THRESHOLD
) -> tuple[str, ...]:
    """The categories whose ``disclosure_<category>`` intent Rasa ranked at ``threshold`` or
    more (layer 3), most urgent first. ``ranking`` is Rasa's ``intent_ranking``."""
    found = set()
    for item in ranking:
        name, confidence = item.get("name"), item.get("confidence")
        if (
            isinstance(name, str)
            and name.startswith(DISCLOSURE_INTENT_PREFIX)
            and isinstance(confidence, int | float)
            and confidence >= threshold
        ):
            found.add(name[len(DISCLOSURE_INTENT_PREFIX) :])
    return tuple(c for c in CATEGORIES if c in found)


# A classifier returns the probability of each category and of "risk" for a text.
Scorer = Callable[[str], dict[str, float]]


class Safeguarding:
    """Both layers together. Without a scorer, only the patterns run."""

    def __init__(
        self, scorer: Scorer | None = None, threshold: float = CLASSIFIER_THRESHOLD
    ) -> None:
        self._scorer = scorer
        self._threshold = threshold

    def assess(self, text: str) -> tuple[str, ...]:
        """Every category the message may disclose, most urgent first; () if none."""
        if not text or not text.strip():
            return ()
        found = set(patterns_match(text))
        if self._scorer is not None:
            scores = self._scorer(text)
            if scores.get("risk", 0.0) >= self._threshold:
                ranked = [c for c in CATEGORIES if scores.get(c, 0.0) >= self._threshold / 2]
                best = max(CATEGORIES, key=lambda c: scores.get(c, 0.0))
                found.update(ranked or [best])
        return tuple(c for c in CATEGORIES if c in found)


def check(text: str, categories: Sequence[str] = CATEGORIES) -> str | None:
    """The most urgent category the patterns find in ``text``, or None (patterns only)."""
    found = patterns_match(text)
    return next((c for c in found if c in categories), None)
