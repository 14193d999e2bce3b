"""Synthetic conflict-news questions that teach the span reader the distinctions it gets wrong.

The reader is trained on SQuADShifts + SQuAD, which hold little war reporting. On conflict news it
confuses roles that sit side by side in one sentence: killed vs injured, children vs the total,
drones launched vs shot down vs hit, "what did X say" answered with "said on Wednesday", "which
buildings were hit" answered with a country. `generate(n, seed)` writes `n` short invented news
paragraphs (3-7 sentences, 60-200 words) with one question each, reproducible from `seed`:

- answerable kinds: casualties, weapons, other_count (missing, evacuated, detained, exchanged),
  who (official or organization), what_said (the reported clause), where, when, what_hit;
- unanswerable (about 25%): a role the paragraph does not give (killed when only injured is given,
  children when none are mentioned, shot down when only launched is given, a speaker nobody
  quotes, a claim nobody made, a weapon the text never names);
- yes/no (about 5%): unanswerable for an extractive reader, so `answers=()`.

Convention: a count's answer is the number as written with its qualifier ("at least 12",
"nearly 3,000", "seven"), without the noun. Every place, person and country is invented; nothing
derives from evaluation material. The kind of an example is the last part of its id
(`kind_of`). `python -m rag.reader.synthetic --n 2000` prints samples and the counts by kind.
"""

from __future__ import annotations

import argparse
import random
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rag.reader.data import QAExample

SOURCE = "synthetic-conflict"
YESNO_SHARE = 0.05
UNANSWERABLE_SHARE = 0.25  # besides the yes/no share
MIN_WORDS, MAX_WORDS = 60, 200
MIN_SENTENCES, MAX_SENTENCES = 3, 7

# --- vocabulary --------------------------------------------------------------------------------

_SYL_A = [
    "Vel",
    "Kor",
    "Dras",
    "Mir",
    "Ost",
    "Bel",
    "Tar",
    "Hal",
    "Zor",
    "Lum",
    "Kav",
    "Ser",
    "Brod",
    "Niv",
    "Pol",
    "Sol",
    "Vys",
    "Rud",
    "Kel",
    "Dor",
    "Gor",
    "Lis",
    "Mar",
    "Tor",
    "Vor",
    "Pet",
    "Slav",
    "Rav",
    "Yar",
    "Chor",
    "Bor",
    "Kras",
    "Nov",
    "Star",
    "Zel",
    "Liv",
    "Sok",
    "Bar",
    "Kam",
    "Var",
    "Dub",
    "Tem",
    "Hor",
]
_SYL_B = [
    "ovka",
    "ensk",
    "yn",
    "ar",
    "ivka",
    "ograd",
    "iv",
    "opol",
    "ets",
    "ino",
    "avets",
    "ovo",
    "any",
    "ice",
    "en",
    "ovets",
    "ynsk",
    "ach",
    "itsa",
    "ark",
    "ukha",
    "omyr",
    "adyn",
    "ovsk",
    "ishche",
    "eny",
    "ets",
    "ul",
    "in",
    "ava",
]
_TOWNS = [
    "Ashford",
    "Millbrook",
    "Eastvale",
    "Northgate",
    "Redcliff",
    "Stonebridge",
    "Fairhaven",
    "Riverton",
    "Oakmere",
    "Westbury",
    "Greystone",
    "Hollowell",
    "Kingsferry",
    "Larkfield",
    "Marlow",
    "Pinecrest",
    "Ravenholm",
    "Saltmarsh",
    "Thornbury",
    "Underhill",
    "Whitmore",
    "Brackenfield",
    "Coldwater",
    "Deepdale",
    "Elmstead",
    "Foxhollow",
    "Glenmora",
    "Harrowgate",
    "Ironbridge",
    "Juniper",
    "Falls",
]
_REGION_END = ("a", "ia", "ska", "shchyna", "ovia", "ava")
_COUNTRY_END = ("ia", "land", "ova", "istan", "ania", "ovia")
_DIRECTIONS = ("east", "north", "south", "west", "north-east", "south-east", "north-west")
_FIRST = [
    "Oleh",
    "Ivan",
    "Marta",
    "Daria",
    "Petro",
    "Vadym",
    "Ilona",
    "Serhiy",
    "Anna",
    "Roman",
    "Yulia",
    "Taras",
    "Nadia",
    "Andriy",
    "Olena",
    "Mykola",
    "Tamara",
    "Pavel",
    "Irena",
    "Bohdan",
    "Lena",
    "Artem",
    "Vira",
    "Kostya",
    "Halyna",
    "Denys",
    "Zoya",
    "Maxim",
    "Larysa",
    "Emil",
    "Sofia",
    "Viktor",
    "Inna",
]
_SURNAME_A = [
    "Kov",
    "Mel",
    "Shev",
    "Boy",
    "Lys",
    "Hrin",
    "Tkach",
    "Sav",
    "Pav",
    "Dan",
    "Kuz",
    "Mor",
    "Rom",
    "Fed",
    "Sydor",
    "Kost",
    "Bil",
]
_SURNAME_B = ["enko", "chuk", "ak", "ovych", "yk", "ets", "ko", "yshyn", "uk", "iv", "ov", "ova"]
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]

# (singular, plural) of the weapon that hit the target; all start with a consonant.
_WEAPONS = (
    ("drone", "drones"),
    ("missile", "missiles"),
    ("glide bomb", "glide bombs"),
    ("rocket", "rockets"),
    ("shell", "shells"),
    ("ballistic missile", "ballistic missiles"),
    ("cruise missile", "cruise missiles"),
    ("guided bomb", "guided bombs"),
    ("Shahed drone", "Shahed drones"),
)
# (as written in the air-defence sentence, as asked)
_AIR_WEAPONS = (
    ("drones", "drones"),
    ("attack drones", "drones"),
    ("Shahed-type drones", "drones"),
    ("missiles", "missiles"),
    ("cruise missiles", "missiles"),
    ("ballistic missiles", "missiles"),
    ("rockets", "rockets"),
)
# (noun phrase as written, short word for questions)
_TARGETS = (
    ("a five-storey apartment block", "apartment block"),
    ("a nine-storey residential building", "residential building"),
    ("an apartment building", "apartment building"),
    ("a school", "school"),
    ("a secondary school", "school"),
    ("a kindergarten", "kindergarten"),
    ("a hospital", "hospital"),
    ("a children's hospital", "hospital"),
    ("a maternity ward", "maternity ward"),
    ("a power substation", "substation"),
    ("a thermal power plant", "power plant"),
    ("the grain terminal at the port", "grain terminal"),
    ("a railway depot", "railway depot"),
    ("a road bridge", "bridge"),
    ("the bridge over the river", "bridge"),
    ("a shopping centre", "shopping centre"),
    ("a warehouse", "warehouse"),
    ("a fuel depot", "fuel depot"),
    ("a water pumping station", "pumping station"),
    ("a private house", "house"),
    ("a church", "church"),
    ("an administrative building", "administrative building"),
    ("a post office", "post office"),
    ("a supermarket", "supermarket"),
    ("a bus station", "bus station"),
    ("a hotel", "hotel"),
    ("an industrial enterprise", "enterprise"),
    ("a car repair shop", "repair shop"),
    ("a gas distribution station", "gas station"),
    ("a university dormitory", "dormitory"),
)
_OTHER_TARGETS = ("a warehouse", "a farm", "a petrol station", "a garage", "a sports hall")
_CAS_ORGS = (
    "State Emergency Service",
    "regional health department",
    "Health Ministry",
    "regional military administration",
    "National Police",
    "city council",
    "Interior Ministry",
    "emergency services",
    "regional prosecutor's office",
    "city military administration",
)
_AIR_ORGS = (
    "air force",
    "Air Force command",
    "General Staff",
    "Defence Ministry",
    "regional air defence command",
    "Southern Defence Forces",
)
# question word -> (prefix titles, appositive titles)
SPEAKERS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "governor": (
        ("regional governor", "governor", "{region} governor"),
        ("the governor of the {region} region", "the regional governor"),
    ),
    "mayor": (("mayor", "{place} mayor"), ("the mayor of {place}", "the city's mayor")),
    "military spokesperson": (
        ("military spokesperson", "army spokesperson"),
        ("a military spokesperson for the {region} region", "the army's spokesperson"),
    ),
    "police chief": (
        ("police chief", "regional police chief"),
        ("the head of the {region} police", "the regional police chief"),
    ),
    "health minister": (("health minister",), ("the country's health minister",)),
    "prosecutor": (("regional prosecutor",), ("the regional prosecutor",)),
}
_CLAUSES = (
    "rescuers were still searching the rubble for survivors",
    "the fire at the site had been put out",
    "emergency crews had restored power to most homes",
    "several nearby buildings had their windows blown out",
    "the attack was the heaviest on the region in weeks",
    "schools in the district would switch to online classes",
    "a temporary shelter had been opened for displaced residents",
    "the damaged bridge would stay closed to traffic",
    "water supply in the eastern districts had been cut",
    "doctors were fighting to save the lives of the wounded",
    "the city would observe a day of mourning",
    "debris from downed drones had fallen on a parking lot",
    "investigators were collecting fragments of the weapons",
    "the strike had hit purely civilian infrastructure",
    "residents should stay in shelters until the all-clear",
    "repair teams would work through the night",
    "the railway line would reopen by the weekend",
    "the grain terminal had suspended operations",
    "psychologists were working with the families of the victims",
    "the enemy had deliberately targeted energy facilities",
    "evacuation of the frontline villages would continue",
    "there was no threat of a gas leak",
)
_QUALIFIERS = ("at least", "more than", "nearly", "about", "some", "over", "up to", "almost")
_UNITS = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
]
_TENS = {
    30: "thirty",
    40: "forty",
    50: "fifty",
    60: "sixty",
    70: "seventy",
    80: "eighty",
    90: "ninety",
}

# --- sentence templates ------------------------------------------------------------------------

LEAD = (
    "A {weapon} struck {target} in {place} on {day}.",
    "On {day}, {weapons} hit {target} in {place}, a town in {country}'s {direction}.",
    "{target} in {place} was hit by a {weapon} on {day}, local officials said.",
    "A {weapon} attack on {place} on {day} damaged {target}.",
    "{weapons} struck {target} in the {region} town of {place} early on {day}.",
    "Early on {day}, {target} in {place} was damaged in a {weapon} attack.",
    "The attack on {place}, in {country}'s {direction}ern {region} region, hit {target} on {day}.",
    "On the night of {day}, a {weapon} slammed into {target} in {place}.",
    "A {weapon} hit {target} on the outskirts of {place} on {day}.",
    "{place} came under {weapon} attack on {day}, with {target} taking a direct hit.",
    "Enemy forces targeted {target} in {place} with {weapons} on {day}.",
    "A {weapon} strike on {day} destroyed {target} in {place}, near the border with {country}.",
    "On {day}, {target} in the centre of {place} was struck by {weapons}.",
    "{weapons} launched from {country} hit {target} in {place} on {day}.",
    "Part of {target} in {place} collapsed after a {weapon} strike on {day}.",
    "Overnight into {day}, a {weapon} damaged {target} in {place}, {region} region.",
    "In {country}'s {region} region, {target} in {place} was hit by {weapons} on {day}.",
)
CAS_BOTH = (
    "{killed} people were killed and {injured} were injured in the attack, the {org} said.",
    "The strike killed {killed} people and wounded {injured} others, according to the {org}.",
    "At the site, {killed} people died and {injured} were hurt, the {org} reported.",
    "The {org} said {killed} people had been killed and another {injured} injured.",
    "The death toll rose to {killed}, while {injured} people were wounded, the {org} said.",
    "Officials said {injured} people were injured and {killed} were killed.",
    "The attack left {killed} dead and {injured} injured, according to the {org}.",
    "Among the casualties, {killed} were killed and {injured} wounded, the {org} said.",
    "In total, {injured} people were hurt and {killed} lost their lives, the {org} reported.",
    "The {org} put the number of dead at {killed} and the number of injured at {injured}.",
    "{killed} people died at the scene, the {org} said, adding that {injured} more were taken to hospital with injuries.",
    "The strike claimed {killed} lives and left {injured} people wounded, the {org} said.",
    "Rescuers recovered the bodies of {killed} people, while {injured} others were treated for injuries, the {org} said.",
    "According to the {org}, {injured} people sustained injuries and {killed} were killed.",
    "The {org} said the number of wounded had reached {injured}; {killed} people were confirmed dead.",
    "The {org} reported {injured} injured, and said {killed} people had died.",
)
CAS_INJURED_ONLY = (
    "{injured} people were injured in the attack, the {org} said, adding that no deaths had been reported.",
    "The strike wounded {injured} people, according to the {org}.",
    "{injured} people were hurt, the {org} said.",
    "The {org} said {injured} people had sought medical help after the strike.",
    "The number of injured rose to {injured}, the {org} reported.",
    "{injured} people were taken to hospital with shrapnel wounds, the {org} said.",
    "According to the {org}, {injured} people were wounded.",
    "Medics treated {injured} people for injuries, the {org} said.",
)
CAS_KILLED_ONLY = (
    "The strike killed {killed} people, the {org} said.",
    "{killed} people were killed, according to the {org}.",
    "The death toll rose to {killed}, the {org} reported.",
    "The {org} said {killed} people had died.",
    "Rescuers recovered {killed} bodies from the rubble, the {org} said.",
    "The attack claimed {killed} lives, according to the {org}.",
)
CAS_CHILDREN_INJURED = (
    "{injured} people were injured, including {children} children, the {org} said.",
    "Among the {injured} wounded were {children} children, according to the {org}.",
    "The {org} said {injured} people were hurt, {children} of them children.",
    "{children} children were among the {injured} people injured in the strike.",
    "The strike injured {injured} people, among them {children} children.",
    "{injured} people, including {children} children, were taken to hospital, the {org} said.",
    "Of the {injured} people wounded, {children} were children, the {org} reported.",
    "The wounded included {children} children, the {org} said, bringing the total number of injured to {injured}.",
    "{killed} people were killed and {injured} injured, including {children} children, the {org} said.",
    "The attack killed {killed} people and wounded {injured}, {children} of them children, according to the {org}.",
    "The {org} said {killed} people died; {injured} were injured, among them {children} children.",
)
CAS_CHILDREN_KILLED = (
    "{killed} people, including {children} children, were killed and {injured} were injured, the {org} said.",
    "The attack killed {killed} people, among them {children} children, and wounded {injured}.",
    "Among the {killed} dead were {children} children, the {org} said; {injured} people were injured.",
    "The {org} said {children} children were among the {killed} people killed, while {injured} others were wounded.",
    "The strike killed {killed} people, {children} of them children, the {org} said.",
)
AIR_FULL = (
    "The enemy launched {launched} {aweapons} overnight, of which {down} were shot down, the {aorg} said.",
    "Air defences shot down {down} of the {launched} {aweapons} launched at the region, the {aorg} said.",
    "The {aorg} said {down} {aweapons} had been intercepted out of {launched} fired overnight.",
    "Of the {launched} {aweapons} fired at the city, {down} were destroyed by air defences.",
    "{launched} {aweapons} were sent towards the region overnight; air defence units downed {down} of them.",
    "The {aorg} said it had intercepted {down} {aweapons}, adding that {launched} had been launched in total.",
    "In total, {launched} {aweapons} were launched and {down} were shot down, according to the {aorg}.",
    "Of {launched} {aweapons} launched, {down} were shot down and {hit} reached their targets, the {aorg} said.",
    "The attack involved {launched} {aweapons}; {down} were intercepted and {hit} struck targets in the region.",
    "The {aorg} reported that {down} of {launched} {aweapons} had been destroyed in the air.",
    "{down} {aweapons} were shot down over the region, the {aorg} said, out of {launched} launched overnight.",
    "Overnight the enemy fired {launched} {aweapons}, and air defence crews brought down {down}.",
    "Air defence forces intercepted {down} {aweapons}; the total number launched was {launched}, the {aorg} said.",
    "A total of {launched} {aweapons} were fired; {hit} hit the city after {down} were shot down.",
    "The {aorg} said {launched} {aweapons} were launched, {down} were downed and {hit} got through.",
)
AIR_NO_LAUNCHED = (
    "Air defences downed {down} {aweapons}, while {hit} hit their targets, the {aorg} said.",
    "The {aorg} said {hit} {aweapons} got through air defences, while {down} were shot down.",
    "{down} {aweapons} were intercepted, but {hit} struck the city, the {aorg} said.",
)
AIR_LAUNCHED_ONLY = (
    "The enemy launched {launched} {aweapons} at the region overnight, the {aorg} said.",
    "{launched} {aweapons} were fired at the city overnight, according to the {aorg}.",
    "The {aorg} said {launched} {aweapons} had been sent towards the region.",
    "The attack involved {launched} {aweapons}, the {aorg} said.",
    "Overnight, the enemy fired {launched} {aweapons} at the region.",
)
OTHER: dict[str, tuple[str, ...]] = {
    "missing": (
        "{n} people were reported missing after the strike, the {org} said.",
        "Rescuers were searching for {n} people still missing under the rubble.",
        "The {org} said {n} residents remained unaccounted for.",
        "{n} people are still listed as missing, officials said.",
    ),
    "evacuated": (
        "{n} residents were evacuated from nearby buildings.",
        "Authorities evacuated {n} people from the surrounding streets.",
        "The {org} said {n} people had been evacuated from the area.",
        "{n} people had to leave their homes, the {org} said.",
    ),
    "detained": (
        "Police detained {n} people suspected of passing information about the strike.",
        "{n} suspects were detained, the {org} said.",
        "The {org} said it had detained {n} people on suspicion of spotting targets.",
        "Security services arrested {n} people in connection with the attack.",
    ),
    "exchanged": (
        "Separately, the two sides exchanged {n} prisoners of war.",
        "A separate prisoner swap saw {n} soldiers return home, the {org} said.",
        "{n} prisoners were exchanged under a deal brokered by mediators.",
        "The {org} said {n} captured servicemen had been returned in an exchange.",
    ),
}
QUOTE = (
    "{speaker} said on {qday} that {clause}.",
    "Speaking on {qday}, {speaker} said that {clause}.",
    "{speaker} said in a video address on {qday} that {clause}.",
    "In a Telegram post on {qday}, {speaker} said {clause}.",
    "{speaker} told reporters on {qday} that {clause}.",
    "{speaker} wrote on Telegram late on {qday} that {clause}.",
    "On {qday} evening, {speaker} said that {clause}.",
    "{speaker} said {clause}, in a statement issued on {qday}.",
    '"{clause}," {speaker_np} said on {qday}.',
    "{speaker} said at a briefing on {qday} that {clause}.",
    "{speaker} said on national television on {qday} that {clause}.",
    "Later on {qday}, {speaker} said {clause}.",
    "{speaker} confirmed on {qday} that {clause}.",
    "{speaker} said in an online statement on {qday} that {clause}.",
    "According to {speaker_np}, who spoke on {qday}, {clause}.",
    '"{clause}," said {speaker_np}, speaking on {qday}.',
)
DISTRACTORS = (
    "Power outages were reported in several districts of {place} after the strike.",
    "The weather in the region was cold and cloudy, with temperatures near freezing.",
    "Air raid alerts sounded across {country} for several hours.",
    "Earlier this month, {n} people were killed in a strike on {other_place}.",
    "A day earlier, {n} people were injured by shelling in {other_place}.",
    "On {other_day}, air defences shot down {n} drones over {other_place}.",
    "Schools in {other_place} switched to remote learning for the rest of the week.",
    "Train services between {place} and {other_place} were delayed by several hours.",
    "The region has been shelled almost daily since the spring.",
    "Heating was restored to most homes by the evening.",
    "Volunteers handed out water and blankets to residents.",
    "Windows were shattered in several nearby buildings.",
    "{country}'s foreign ministry condemned the attack.",
    "Rescue work continued into the night.",
    "Fires broke out in {n} places across the city.",
    "Fighting continued along the front line near {other_place}.",
    "Mobile networks were disrupted for several hours.",
    "Authorities in {other_place} reported a separate strike on {other_target}.",
    "Traffic on the main highway to {other_place} was briefly suspended.",
    "{n} households were left without electricity in {other_place}.",
    "Last {other_day}, {n} missiles were fired at {other_place}.",
    "Heavy rain slowed the clean-up in {place}.",
)

# --- question templates ------------------------------------------------------------------------

Q_COUNT: dict[str, tuple[str, ...]] = {
    "killed": (
        "How many people were killed{loc}?",
        "How many people died{loc}?",
        "How many people lost their lives{loc}?",
        "What was the death toll{loc}?",
        "How many fatalities were reported{loc}?",
        "How many were dead after the strike{loc}?",
        "How many civilians were killed{loc}?",
        "How many deaths were there{loc}?",
    ),
    "injured": (
        "How many people were injured{loc}?",
        "How many people were wounded{loc}?",
        "How many people were hurt{loc}?",
        "How many injuries were reported{loc}?",
        "How many people were injured in total{loc}?",
        "What was the number of wounded{loc}?",
    ),
    "children_injured": (
        "How many children were injured{loc}?",
        "How many children were wounded{loc}?",
        "How many children were hurt{loc}?",
        "How many of the injured were children{loc}?",
    ),
    "children_killed": (
        "How many children were killed{loc}?",
        "How many children died{loc}?",
        "How many children lost their lives{loc}?",
        "How many of the dead were children{loc}?",
    ),
    "launched": (
        "How many {aw} were launched{loc}?",
        "How many {aw} were fired{loc}?",
        "How many {aw} were sent{loc}?",
        "How many {aw} did the enemy launch{loc}?",
        "What was the total number of {aw} launched{loc}?",
    ),
    "down": (
        "How many {aw} were shot down{loc}?",
        "How many {aw} were intercepted{loc}?",
        "How many {aw} were destroyed by air defences{loc}?",
        "How many {aw} were downed{loc}?",
        "How many {aw} did air defences shoot down{loc}?",
    ),
    "hit": (
        "How many {aw} hit their targets{loc}?",
        "How many {aw} got through air defences{loc}?",
        "How many {aw} were not intercepted{loc}?",
        "How many {aw} struck targets{loc}?",
    ),
    "missing": (
        "How many people were reported missing{loc}?",
        "How many people are missing{loc}?",
        "How many people remain unaccounted for{loc}?",
    ),
    "evacuated": (
        "How many people were evacuated{loc}?",
        "How many residents were evacuated{loc}?",
        "How many people had to leave their homes{loc}?",
    ),
    "detained": (
        "How many people were detained{loc}?",
        "How many suspects were arrested{loc}?",
        "How many people did the police detain{loc}?",
    ),
    "exchanged": (
        "How many prisoners were exchanged?",
        "How many prisoners of war were swapped?",
        "How many prisoners were returned in the exchange?",
    ),
}
LOCATORS = (
    " in {place}",
    " in the attack on {place}",
    " in {place} on {day}",
    " in the {place} strike",
    " during the attack on {place}",
    " at the {tshort} in {place}",
)
AIR_LOCATORS = (
    " in the attack on {place}",
    " over {place}",
    " during the {place} attack",
    " targeting {place}",
    " overnight in {place}",
)
Q_WHO_PERSON = (
    "Who said that {clause}?",
    "Which official said that {clause}?",
    "Who reported that {clause}?",
    "Which official spoke on {qday}?",
    "Who announced that {clause}?",
    "Who is the {role} quoted in the report?",
    "Which official commented on the attack on {place}?",
)
Q_WHO_ORG = (
    "Which organization reported the casualties in {place}?",
    "According to which agency were people hurt in {place}?",
    "Who gave the casualty figures for {place}?",
    "Which body reported the number of victims?",
    "Which agency released the casualty figures?",
)
Q_WHO_AIR_ORG = (
    "Which body reported the number of {aw} shot down?",
    "According to whom were {aw} intercepted?",
    "Who gave the figures on {aw} launched and downed?",
)
Q_SAID = (
    "What did {name} say?",
    "What did the {role} say?",
    "What did {name} say on {qday}?",
    "What did the {role} tell people?",
    "What did {name} report?",
    "What did the {role} {name} say about the situation?",
    "What did {name} announce?",
    "According to {name}, what was the situation?",
)
Q_SAID_ROLE = (
    "What did the {role} say?",
    "What did the {role} tell people?",
    "What did the {role} say about the situation?",
    "What did the {role} announce?",
)
Q_WHERE = (
    "Where did the {weapon} strike happen?",
    "Which town was attacked on {day}?",
    "Where was the {tshort} hit?",
    "In which town was the {tshort} damaged?",
    "Where did the attack on {day} take place?",
    "Which city came under attack on {day}?",
    "Where was the {tshort} that was struck?",
)
Q_WHEN = (
    "When was the {tshort} hit?",
    "On what day did the attack on {place} take place?",
    "When did the strike on {place} happen?",
    "When was {place} attacked?",
    "What day was the {tshort} in {place} struck?",
    "When did the {weapon} attack on {place} occur?",
)
Q_WHAT_HIT = (
    "What was hit in {place}?",
    "What did the {weapon} strike in {place}?",
    "Which building was hit on {day}?",
    "What was damaged in the attack on {place}?",
    "What was struck in {place} on {day}?",
    "Which facility was hit in {place}?",
    "What did the attack on {place} damage?",
    "What was the target of the strike in {place}?",
    "Which buildings were hit in {place}?",
)
Q_YESNO = (
    "Was anyone killed in {place}?",
    "Did the {org} comment on the attack?",
    "Were any {aw} shot down?",
    "Was the {tshort} damaged?",
    "Did {name} say anything about the attack?",
    "Is {place} in the {region} region?",
    "Were children among the injured?",
    "Has power been restored in {place}?",
    "Did the attack happen on {day}?",
    "Was the {tshort} in {place} destroyed?",
)


# --- rendering ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Piece:
    """Text with the character spans of the slots it was filled from."""

    text: str
    spans: dict[str, tuple[int, int]]


_SLOT = re.compile(r"\{(\w+)\}")


def render(template: str, slots: Mapping[str, str | Piece]) -> Piece:
    """Fill `{name}` slots; a Piece value keeps its own spans (the first occurrence wins).

    >>> p = render("{a} met {b}.", {"a": "Ann", "b": render("{x} Bo", {"x": "Mr"})})
    >>> p.text, p.spans["b"], p.spans["x"]
    ('Ann met Mr Bo.', (8, 13), (8, 10))
    """
    out: list[str] = []
    spans: dict[str, tuple[int, int]] = {}
    pos = last = 0
    for m in _SLOT.finditer(template):
        literal = template[last : m.start()]
        out.append(literal)
        pos += len(literal)
        value = slots[m.group(1)]
        if isinstance(value, Piece):
            text = value.text
            for key, (s, e) in value.spans.items():
                spans.setdefault(key, (pos + s, pos + e))
        else:
            text = value
        spans.setdefault(m.group(1), (pos, pos + len(text)))
        out.append(text)
        pos += len(text)
        last = m.end()
    out.append(template[last:])
    return Piece("".join(out), spans)


def capitalize(piece: Piece) -> Piece:
    for i, ch in enumerate(piece.text):
        if ch.isalpha():
            return Piece(piece.text[:i] + ch.upper() + piece.text[i + 1 :], piece.spans)
    return piece


def number_words(value: int) -> str | None:
    """Words for small or round numbers, else None.

    >>> number_words(3), number_words(40), number_words(47)
    ('three', 'forty', None)
    """
    if 0 <= value <= 20:
        return _UNITS[value]
    return _TENS.get(value)


def format_number(rng: random.Random, value: int) -> str:
    """A count as a news report writes it: digits or words, maybe with a qualifier."""
    qualified = rng.random() < 0.35
    if qualified and value >= 1000:  # "nearly 3,000", not "nearly 2,987"
        value = round(value, -2)
    words = number_words(value)
    text = words if words and rng.random() < 0.55 else f"{value:,}"
    return f"{rng.choice(_QUALIFIERS)} {text}" if qualified else text


# --- one paragraph -----------------------------------------------------------------------------


class World:
    """Invented names and numbers for one paragraph; numbers never repeat inside it."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        places = set()
        while len(places) < 3:
            places.add(self._place())
        self.place, self.other_place, self.third_place = sorted(
            sorted(places), key=lambda _: rng.random()
        )  # sorted first: a set's order changes with the hash seed of the process
        self.region = rng.choice(_SYL_A) + rng.choice(_SYL_B)[:-1] + rng.choice(_REGION_END)
        self.country = rng.choice(_SYL_A) + rng.choice(_SYL_A).lower() + rng.choice(_COUNTRY_END)
        self.direction = rng.choice(_DIRECTIONS)
        weekdays = rng.sample(_WEEKDAYS, 3)
        self.weekday, self.qday, self.other_day = weekdays
        style = rng.random()
        month, dom = rng.choice(_MONTHS), rng.randint(1, 28)
        if style < 0.6:
            self.day = self.weekday
        elif style < 0.75:
            self.day = f"{month} {dom}"
        elif style < 0.9:
            self.day = f"{self.weekday}, {month} {dom}"
        else:
            self.day = f"{dom} {month}"
        self.weapon, self.weapons = rng.choice(_WEAPONS)
        self.aweapons, self.aw = rng.choice(_AIR_WEAPONS)
        self.target, self.tshort = rng.choice(_TARGETS)
        self.org = rng.choice(_CAS_ORGS)
        self.aorg = rng.choice(_AIR_ORGS)
        self.name = f"{rng.choice(_FIRST)} {self._surname()}"
        self.role = rng.choice(sorted(SPEAKERS))
        self.clause = rng.choice(_CLAUSES)
        self.used: set[int] = set()

    def _place(self) -> str:
        if self.rng.random() < 0.3:
            return self.rng.choice(_TOWNS)
        return self.rng.choice(_SYL_A) + self.rng.choice(_SYL_B)

    def _surname(self) -> str:
        return self.rng.choice(_SURNAME_A) + self.rng.choice(_SURNAME_B)

    def value(self, lo: int, hi: int) -> int:
        for _ in range(100):
            v = self.rng.randint(lo, max(lo, hi))
            if v not in self.used:
                self.used.add(v)
                return v
        v = max(self.used | {hi}) + 1
        self.used.add(v)
        return v

    def number(self, lo: int, hi: int) -> str:
        return format_number(self.rng, self.value(lo, hi))

    def speaker(self) -> tuple[Piece, Piece]:
        """(subject form, plain noun-phrase form) of the quoted official; both span `name`."""
        prefixes, appositives = SPEAKERS[self.role]
        fill = {"region": self.region, "place": self.place, "name": self.name}
        if self.rng.random() < 0.5:
            title = render(self.rng.choice(prefixes), fill).text
            piece = render("{title} {name}", {"title": title, "name": self.name})
            return piece, piece
        appos = render(self.rng.choice(appositives), fill).text
        subj = render("{name}, {appos},", {"name": self.name, "appos": appos})
        return subj, render("{name}, {appos}", {"name": self.name, "appos": appos})

    def base_slots(self) -> dict[str, str | Piece]:
        return {
            "place": self.place,
            "other_place": self.other_place,
            "region": self.region,
            "country": self.country,
            "direction": self.direction,
            "day": self.day,
            "qday": self.qday,
            "other_day": self.other_day,
            "weapon": self.weapon,
            "weapons": self.weapons,
            "aweapons": self.aweapons,
            "target": self.target,
            "other_target": self.rng.choice(_OTHER_TARGETS),
            "org": self.org,
            "aorg": self.aorg,
            "clause": self.clause,
        }


@dataclass
class _Plan:
    cas: str | None = None  # both, injured_only, killed_only, children_injured, children_killed
    air: str | None = None  # full, no_launched, launched_only
    other: str | None = None  # a key of OTHER
    quote: bool = False


@dataclass
class _Paragraph:
    text: str
    spans: dict[str, tuple[int, int]]  # "section.slot" -> span
    sentences: int
    words: int


def _casualty_sentence(world: World, variant: str) -> Piece:
    rng = world.rng
    killed_v = world.value(5 if variant == "children_killed" else 2, 60)
    injured_v = world.value(killed_v + 3, 220)
    slots = world.base_slots()
    slots["killed"] = format_number(rng, killed_v)
    slots["injured"] = format_number(rng, injured_v)
    if variant == "children_injured":
        slots["children"] = format_number(rng, world.value(2, min(15, injured_v - 1)))
    elif variant == "children_killed":
        slots["children"] = format_number(rng, world.value(2, max(2, min(12, killed_v - 1))))
    templates = {
        "both": CAS_BOTH,
        "injured_only": CAS_INJURED_ONLY,
        "killed_only": CAS_KILLED_ONLY,
        "children_injured": CAS_CHILDREN_INJURED,
        "children_killed": CAS_CHILDREN_KILLED,
    }[variant]
    return render(rng.choice(templates), slots)


def _air_sentence(world: World, variant: str) -> Piece:
    rng = world.rng
    launched = world.value(8, 300)
    down = world.value(3, launched - 2)
    hit = launched - down
    if hit in world.used or hit == down:
        hit = world.value(1, max(2, launched // 3))
    else:
        world.used.add(hit)
    slots = world.base_slots()
    slots.update(
        launched=format_number(rng, launched),
        down=format_number(rng, down),
        hit=format_number(rng, hit),
    )
    templates = {
        "full": AIR_FULL,
        "no_launched": AIR_NO_LAUNCHED,
        "launched_only": AIR_LAUNCHED_ONLY,
    }
    return render(rng.choice(templates[variant]), slots)


def _other_sentence(world: World, role: str) -> Piece:
    ranges = {
        "missing": (2, 30),
        "evacuated": (20, 5000),
        "detained": (2, 15),
        "exchanged": (20, 400),
    }
    slots = world.base_slots()
    slots["n"] = world.number(*ranges[role])
    return render(world.rng.choice(OTHER[role]), slots)


def _quote_sentence(world: World) -> Piece:
    subj, np_ = world.speaker()
    slots = world.base_slots()
    slots.update(speaker=subj, speaker_np=np_)
    template = world.rng.choice(QUOTE)
    if template.startswith('"'):
        slots["clause"] = world.clause[0].upper() + world.clause[1:]
    return render(template, slots)


def distractor(world: World, template: str) -> Piece:
    slots = world.base_slots()
    slots["n"] = world.number(3, 90)
    return render(template, slots)


def _paragraph(world: World, plan: _Plan) -> _Paragraph:
    rng = world.rng
    lead = render(rng.choice(LEAD), world.base_slots())
    body: list[tuple[str, Piece]] = []
    if plan.cas:
        body.append(("cas", _casualty_sentence(world, plan.cas)))
    if plan.other:
        body.append(("other", _other_sentence(world, plan.other)))
    if plan.air:
        body.append(("air", _air_sentence(world, plan.air)))
    if plan.quote:
        body.append(("quote", _quote_sentence(world)))
    # casualties and other counts stay adjacent (in either order); the rest is shuffled
    if plan.cas and plan.other and rng.random() < 0.5:
        body[0], body[1] = body[1], body[0]
    blocks: list[list[tuple[str, Piece]]] = []
    if plan.cas and plan.other:
        blocks.append(body[:2])
        body = body[2:]
    blocks.extend([item] for item in body)
    room = MAX_SENTENCES - 1 - sum(len(b) for b in blocks)
    wanted = rng.randint(1, 3)
    chosen = rng.sample(DISTRACTORS, k=min(max(room, 0), 6))
    for i, template in enumerate(chosen):
        if i >= wanted and _words(lead, blocks) >= MIN_WORDS:
            break
        blocks.append([(f"d{i}", distractor(world, template))])
    rng.shuffle(blocks)
    sections = [("lead", lead)] + [item for block in blocks for item in block]
    text = ""
    spans: dict[str, tuple[int, int]] = {}
    for name, piece in sections:
        piece = capitalize(piece)
        if text:
            text += " "
        for key, (s, e) in piece.spans.items():
            spans[f"{name}.{key}"] = (len(text) + s, len(text) + e)
        text += piece.text
    return _Paragraph(text, spans, len(sections), len(text.split()))


def _words(lead: Piece, blocks: Sequence[Sequence[tuple[str, Piece]]]) -> int:
    return len(lead.text.split()) + sum(len(p.text.split()) for b in blocks for _, p in b)


# --- questions ---------------------------------------------------------------------------------


@dataclass
class _Question:
    kind: str
    text: str
    answer_key: str | None  # None: unanswerable
    absent: str | None = None  # unanswerable only if this text is nowhere in the context


def _q(world: World, template: str, **extra: str) -> str:
    slots: dict[str, str | Piece] = {
        "place": world.place,
        "day": world.day,
        "qday": world.qday,
        "weapon": world.weapon,
        "aw": world.aw,
        "tshort": world.tshort,
        "name": world.name,
        "role": world.role,
        "org": world.org,
        "region": world.region,
        "clause": world.clause,
    }
    slots.update(extra)
    return render(template, slots).text


def _count_q(world: World, role: str) -> str:
    rng = world.rng
    air = role in ("launched", "down", "hit")
    loc = rng.choice(AIR_LOCATORS if air else LOCATORS)
    return _q(world, rng.choice(Q_COUNT[role]), loc=_q(world, loc))


_CAS_ROLES = {
    "both": ("killed", "injured"),
    "children_injured": ("injured", "children_injured"),
    "children_killed": ("killed", "injured", "children_killed"),
    "injured_only": ("injured",),
    "killed_only": ("killed",),
}
_AIR_ROLES = {
    "full": ("launched", "down"),
    "no_launched": ("down", "hit"),
    "launched_only": ("launched",),
}
_CAS_KEY = {"children_injured": "children", "children_killed": "children"}
ANSWERABLE_KINDS = (
    ("casualties", 0.24),
    ("weapons", 0.14),
    ("other_count", 0.1),
    ("who", 0.1),
    ("what_said", 0.12),
    ("where", 0.08),
    ("when", 0.08),
    ("what_hit", 0.14),
)


def _random_plan(rng: random.Random) -> _Plan:
    return _Plan(
        cas=rng.choice(list(_CAS_ROLES)) if rng.random() < 0.6 else None,
        air=rng.choice(list(_AIR_ROLES)) if rng.random() < 0.35 else None,
        other=rng.choice(sorted(OTHER)) if rng.random() < 0.3 else None,
        quote=rng.random() < 0.6,
    )


def _answerable(world: World, kind: str) -> tuple[_Plan, _Question]:
    rng = world.rng
    plan = _random_plan(rng)
    if kind == "casualties":
        plan.cas = rng.choice(
            ("both", "both", "children_injured", "children_killed", "injured_only", "killed_only")
        )
        role = rng.choice(_CAS_ROLES[plan.cas])
        key = "children" if role.startswith("children") else role
        return plan, _Question(kind, _count_q(world, role), f"cas.{key}")
    if kind == "weapons":
        plan.air = rng.choice(("full", "full", "full", "no_launched"))
        role = rng.choice(_AIR_ROLES[plan.air] + (("hit",) if plan.air == "full" else ()))
        return plan, _Question(kind, _count_q(world, role), f"air.{role}")
    if kind == "other_count":
        plan.other = rng.choice(sorted(OTHER))
        if rng.random() < 0.6:
            plan.cas = plan.cas or "both"
        return plan, _Question(kind, _count_q(world, plan.other), "other.n")
    if kind == "who":
        pick = rng.random()
        if pick < 0.6:
            plan.quote = True
            return plan, _Question(kind, _q(world, rng.choice(Q_WHO_PERSON)), "quote.name")
        if pick < 0.85:
            plan.cas = rng.choice(("both", "injured_only", "killed_only"))
            return plan, _Question(kind, _q(world, rng.choice(Q_WHO_ORG)), "cas.org")
        plan.air = "full"
        return plan, _Question(kind, _q(world, rng.choice(Q_WHO_AIR_ORG)), "air.aorg")
    if kind == "what_said":
        plan.quote = True
        return plan, _Question(kind, _q(world, rng.choice(Q_SAID)), "quote.clause")
    if kind == "where":
        return plan, _Question(kind, _q(world, rng.choice(Q_WHERE)), "lead.place")
    if kind == "when":
        return plan, _Question(kind, _q(world, rng.choice(Q_WHEN)), "lead.day")
    return plan, _Question("what_hit", _q(world, rng.choice(Q_WHAT_HIT)), "lead.target")


def _unanswerable(world: World) -> tuple[_Plan, _Question]:
    rng = world.rng
    plan = _random_plan(rng)
    sub = rng.choice(
        (
            "killed",
            "injured",
            "children",
            "children_killed",
            "down",
            "launched",
            "other",
            "speaker",
            "claim",
            "weapon",
        )
    )
    kind = f"unanswerable_{sub}"
    if sub == "killed":
        plan.cas = "injured_only"
        return plan, _Question(kind, _count_q(world, "killed"), None)
    if sub == "injured":
        plan.cas = "killed_only"
        return plan, _Question(kind, _count_q(world, "injured"), None)
    if sub == "children":
        plan.cas = rng.choice(("both", "injured_only", "killed_only"))
        asked = rng.choice(("children_injured", "children_killed"))
        return plan, _Question(kind, _count_q(world, asked), None, "children")
    if sub == "children_killed":
        plan.cas = "children_injured"
        return plan, _Question(kind, _count_q(world, "children_killed"), None)
    if sub == "down":
        plan.air = "launched_only"
        return plan, _Question(kind, _count_q(world, rng.choice(("down", "hit"))), None)
    if sub == "launched":
        plan.air = "no_launched"
        return plan, _Question(kind, _count_q(world, "launched"), None)
    if sub == "other":
        roles = sorted(OTHER)
        present: list[str | None] = [*roles, None]
        plan.other = rng.choice(present)
        asked = rng.choice([r for r in roles if r != plan.other])
        return plan, _Question(kind, _count_q(world, asked), None)
    if sub == "speaker":
        plan.quote = rng.random() < 0.8
        other_role = rng.choice([r for r in sorted(SPEAKERS) if r != world.role])
        question = _q(world, rng.choice(Q_SAID_ROLE), role=other_role)
        return plan, _Question(kind, question, None, other_role)
    if sub == "claim":
        plan.quote = True
        unused = rng.choice([c for c in _CLAUSES if c != world.clause])
        template = rng.choice([t for t in Q_WHO_PERSON if "{clause}" in t])
        return plan, _Question(kind, _q(world, template, clause=unused), None, unused)
    # a weapon kind the paragraph never names
    plan.air = rng.choice(("full", "no_launched"))
    asked_aw = {"drones": "missiles", "missiles": "drones", "rockets": "drones"}[world.aw]
    role = rng.choice(("down", "launched") if plan.air == "full" else ("down", "hit"))
    loc = _q(world, rng.choice(LOCATORS[:-1]))
    question = _q(world, rng.choice(Q_COUNT[role]), aw=asked_aw, loc=loc)
    return plan, _Question(kind, question, None, asked_aw[:-1])


def _yesno(world: World) -> tuple[_Plan, _Question]:
    plan = _random_plan(world.rng)
    return plan, _Question("yesno", _q(world, world.rng.choice(Q_YESNO)), None)


def _is_valid(paragraph: _Paragraph, question: _Question) -> bool:
    if not (MIN_SENTENCES <= paragraph.sentences <= MAX_SENTENCES):
        return False
    if not (MIN_WORDS <= paragraph.words <= MAX_WORDS):
        return False
    if question.answer_key is not None:
        return question.answer_key in paragraph.spans
    return question.absent is None or question.absent.lower() not in paragraph.text.lower()


def _one(rng: random.Random, index: int, seed: int) -> QAExample:
    draw = rng.random()
    kinds, weights = zip(*ANSWERABLE_KINDS, strict=True)
    kind = rng.choices(kinds, weights=weights)[0]
    for _ in range(200):
        world = World(rng)
        if draw < YESNO_SHARE:
            plan, question = _yesno(world)
        elif draw < YESNO_SHARE + UNANSWERABLE_SHARE:
            plan, question = _unanswerable(world)
        else:
            plan, question = _answerable(world, kind)
        paragraph = _paragraph(world, plan)
        if not _is_valid(paragraph, question):
            continue
        ex_id = f"{SOURCE}-{seed}-{index:06d}-{question.kind}"
        if question.answer_key is None:
            return QAExample(ex_id, question.text, paragraph.text, (), -1, SOURCE)
        start, end = paragraph.spans[question.answer_key]
        answer = paragraph.text[start:end]
        assert paragraph.text[start : start + len(answer)] == answer and answer.strip() == answer
        return QAExample(ex_id, question.text, paragraph.text, (answer,), start, SOURCE)
    raise RuntimeError(f"no valid synthetic example after 200 tries (index {index})")


def generate(n: int, seed: int = 0) -> list[QAExample]:
    """`n` synthetic conflict-news examples, identical for the same `seed`."""
    rng = random.Random(seed)
    return [_one(rng, i, seed) for i in range(n)]


def kind_of(example: QAExample) -> str:
    """The question kind, kept as the last part of a synthetic example's id."""
    return example.id.rsplit("-", 1)[-1]


def show(examples: Sequence[QAExample], samples: int) -> None:
    """Print the first `samples` examples, then the count of each kind."""
    for ex in examples[:samples]:
        print(f"[{kind_of(ex)}] Q: {ex.question}")
        print(f"  C: {ex.context}")
        print(f"  A: {ex.answers[0] if ex.answers else '(no answer)'} @ {ex.answer_start}\n")
    for kind, count in sorted(Counter(kind_of(ex) for ex in examples).items()):
        print(f"{kind:32s} {count:6d}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--samples", type=int, default=5)
    args = parser.parse_args(argv)
    examples = generate(args.n, args.seed)
    show(examples, args.samples)
    unanswerable = sum(1 for ex in examples if not ex.answers)
    print(f"{'unanswerable share':32s} {unanswerable / max(1, len(examples)):6.3f}")


if __name__ == "__main__":
    main()
