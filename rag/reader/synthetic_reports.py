"""Synthetic paragraphs where one figure has several tellings: updates and named sources.

Issue 14's reports need the reader to find, in one paragraph, the figure an update gives ("rose to
nine, up from six": nine now, six before) and the figure a named source gives when two or three
sources disagree ("the ministry said 19 were killed; a medical group put the toll at 27"). The
base generator (`rag.reader.synthetic`) has one figure per role; SQuAD has almost none of this.
`generate(n, seed)` writes `n` examples of these kinds, from the same invented world (places,
organizations, officials) and the same conventions (a count's answer is the number as written,
with its qualifier, without the noun):

- update_latest: a figure that changed, asked plainly: the newer figure;
- update_earlier: the same, asked for the first or earlier figure;
- source: two or three sources give different figures; the question names one of them (by
  its name as written, by a shorter name, or a person by name or by title);
- unanswerable_source: the question names a source the paragraph does not quote.

Nothing derives from evaluation material: every name is invented by `rag.reader.synthetic`,
and the templates were written from the forms of wire reporting, not from any eval set.
`python -m rag.reader.synthetic_reports --n 500` prints samples and the counts by kind.
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Sequence

from rag.reader.data import QAExample
from rag.reader.synthetic import (
    DISTRACTORS,
    LEAD,
    LOCATORS,
    MAX_WORDS,
    MIN_WORDS,
    SPEAKERS,
    Piece,
    World,
    capitalize,
    distractor,
    format_number,
    render,
    show,
)

SOURCE = "synthetic-reports"
KINDS = (
    ("update_latest", 0.35),
    ("update_earlier", 0.1),
    ("source", 0.45),
    ("unanswerable_source", 0.1),
)

# {new} replaced {old}; {org} gave it; {other_day} is a later day
UPDATE = {
    "killed": (
        "The death toll from the attack on {place} has risen to {new}, up from {old}, the {org} said.",
        "The number of people killed in {place} rose to {new} from {old} after rescuers recovered more bodies, the {org} said.",
        "The toll climbed to {new} on {other_day}; the {org} had earlier reported {old} dead.",
        "{old} people were initially reported killed. By {other_day}, the {org} said the number of dead had reached {new}.",
        "The {org} now puts the death toll at {new}, up from the {old} it reported on {day}.",
        "{old} people were killed, the {org} said on {day}. The toll later rose to {new} as more bodies were found.",
        "The number of dead has been revised up to {new}, from {old}, the {org} said.",
        "The death toll now stands at {new}, compared with {old} in the first reports, according to the {org}.",
        "{new} people have now died, the {org} said, after {old} deaths were confirmed on {day}.",
        "The {org} raised the number of people killed to {new}. It had given a toll of {old} on {day}.",
        "Three more of the wounded died in hospital, bringing the death toll to {new} from {old}, the {org} said.",
    ),
    "injured": (
        "The number of wounded rose to {new}, up from {old}, the {org} said.",
        "The {org} said {new} people had now been injured, revising its earlier figure of {old}.",
        "{old} people were initially reported hurt; the {org} later said {new} had been injured.",
        "The number of injured climbed to {new} from {old} overnight, according to the {org}.",
        "The {org} now says {new} people were wounded, up from {old} reported on {day}.",
    ),
}
DOWN = {
    "killed": (
        "The {org} revised the death toll down to {new}, from an earlier figure of {old}.",
        "The number of dead was revised down to {new} from {old} after duplicate reports were removed, the {org} said.",
        "The {org} lowered the toll to {new}, from {old}, saying some victims had been counted twice.",
    ),
    "injured": ("The {org} revised the number of injured down to {new}, from {old}.",),
}
Q_EARLIER = {
    "killed": (
        "How many people were initially reported killed{loc}?",
        "What was the first death toll given{loc}?",
        "What was the earlier death toll{loc}?",
        "How many deaths had first been reported{loc}?",
    ),
    "injured": (
        "How many people were initially reported injured{loc}?",
        "What was the earlier number of wounded{loc}?",
    ),
}
Q_LATEST = {
    "killed": (
        "How many people were killed{loc}?",
        "What is the death toll{loc}?",
        "How many people died{loc}?",
        "What is the latest death toll{loc}?",
        "How many people have died{loc}?",
    ),
    "injured": (
        "How many people were injured{loc}?",
        "How many people were wounded{loc}?",
        "What is the latest number of injured{loc}?",
    ),
}

# (as the paragraph writes it, as a question may name it)
OUTSIDE_SOURCES = (
    ("{country}'s defence ministry", ("{country}'s defence ministry", "the defence ministry")),
    ("the rebels' spokesman", ("the rebels", "the rebels' spokesman")),
    ("hospital officials in {place}", ("hospital officials", "hospital officials in {place}")),
    ("a local human rights group", ("the rights group", "the local human rights group")),
    ("the United Nations", ("the United Nations", "the UN")),
    ("{country}'s military", ("{country}'s military", "the military")),
    ("the separatist administration", ("the separatist administration", "the separatists")),
    ("a medical charity working in {place}", ("the medical charity",)),
    ("the opposition-run health committee", ("the health committee", "the opposition")),
    ("local volunteers", ("local volunteers", "the volunteers")),
)
# {s0}/{s1}/{s2} as written mid-sentence, {S0}/{S1} capitalized; {n0}/{n1}/{n2} the figures
SOURCES_KILLED = (
    "{S0} said {n0} people were killed, while {s1} put the death toll at {n1}.",
    "{S0} put the number of dead at {n0}. {S1}, however, said {n1} people had been killed.",
    "According to {s0}, {n0} people died in the attack; {s1} gave a figure of {n1}.",
    "{S1} reported {n1} deaths, a higher figure than the {n0} given by {s0}.",
    "{S0} said {n0} people were killed. {S1} said the toll was {n1}.",
    "{S1} said {n1} people had died, contradicting {s0}, which reported {n0} dead.",
    "{S0} counted {n0} dead. {S1} disputed that, saying {n1} people were killed.",
    "The toll given by {s0} was {n0}; {s1} said {n1} people had lost their lives.",
)
# who shoots down and who launches, for the figures of an air attack
DEFENDERS = (
    ("{country}'s defence ministry", ("{country}'s defence ministry", "the defence ministry")),
    ("{country}'s military", ("{country}'s military", "the military")),
    ("the {aorg}", ("the {aorg}",)),
)
ATTACKERS = (
    ("the rebels' command", ("the rebels", "the rebel command")),
    ("the separatist forces", ("the separatists", "the separatist forces")),
    ("the militia's spokesman", ("the militia", "the militia's spokesman")),
)
SOURCES_AIR = (
    "{S0} said its air defences had destroyed {n0} {aw}. {S1} said it had launched {n1}.",
    "{S1} said it sent {n1} {aw}, while {s0} claimed {n0} had been shot down.",
)
THIRD = (
    " {S2} said it had counted {n2} bodies.",
    " {S2} put the toll at {n2}.",
    " A third figure, {n2}, came from {s2}.",
)
Q_SOURCE_KILLED = (
    "According to {who}, how many people were killed{loc}?",
    "How many people were killed{loc}, according to {who}?",
    "What does {who} say the death toll was{loc}?",
    "What death toll did {who} give{loc}?",
    "How many deaths did {who} report{loc}?",
    "What figure did {who} give for the number of dead{loc}?",
    "How many people does {who} say died{loc}?",
    "What is {who}'s count of the dead{loc}?",
)
Q_SOURCE_AIR = {
    0: (
        "How many {aw} does {who} say were destroyed{loc}?",
        "According to {who}, how many {aw} were shot down{loc}?",
    ),
    1: (
        "How many {aw} does {who} say it launched{loc}?",
        "According to {who}, how many {aw} were sent{loc}?",
    ),
}


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _sources(world: World, k: int) -> list[tuple[str, tuple[str, ...]]]:
    """k sources, as written and as a question names them: organizations, outside sources,
    an official by title and name."""
    rng = world.rng
    fill = {"country": world.country, "place": world.place, "region": world.region}
    pool = [
        (render(t, fill).text, tuple(render(q, fill).text for q in qs)) for t, qs in OUTSIDE_SOURCES
    ]
    pool.append((f"the {world.org}", (f"the {world.org}",)))
    prefixes, _ = SPEAKERS[world.role]
    title = render(rng.choice(prefixes), fill).text
    pool.append((f"{title} {world.name}", (world.name, f"the {world.role}")))
    return rng.sample(pool, k)


def _loc(world: World) -> str:
    loc = world.rng.choice(LOCATORS[:4])
    return render(loc, {"place": world.place, "day": world.day, "tshort": world.tshort}).text


def _update(world: World, earlier: bool) -> tuple[Piece, str, str]:
    rng = world.rng
    role = "killed" if rng.random() < 0.75 else "injured"
    old_v = world.value(2, 40)
    down = rng.random() < 0.15
    new_v = world.value(1, old_v - 1) if down else world.value(old_v + 1, old_v + 30)
    slots = world.base_slots()
    slots.update(new=format_number(rng, new_v), old=format_number(rng, old_v))
    piece = render(rng.choice((DOWN if down else UPDATE)[role]), slots)
    table = Q_EARLIER if earlier else Q_LATEST
    question = render(rng.choice(table[role]), {"loc": _loc(world)}).text
    return piece, question, "old" if earlier else "new"


def _source(world: World) -> tuple[Piece, str, str]:
    rng = world.rng
    air = rng.random() < 0.2
    k = 2 if air or rng.random() < 0.7 else 3
    if air:
        fill = {"country": world.country, "aorg": world.aorg}
        sources = [
            (render(t, fill).text, tuple(render(q, fill).text for q in qs))
            for t, qs in (rng.choice(DEFENDERS), rng.choice(ATTACKERS))
        ]
    else:
        sources = _sources(world, k)
    slots = world.base_slots()
    slots["aw"] = world.aw
    template = rng.choice(SOURCES_AIR if air else SOURCES_KILLED)
    values = [world.value(3, 90) for _ in sources]
    if air or "higher figure" in template:  # launched above shot down; "higher" true
        values.sort()
    for i, (written, _) in enumerate(sources):
        slots[f"s{i}"] = written
        slots[f"S{i}"] = _cap(written)
        slots[f"n{i}"] = format_number(rng, values[i])
    if k == 3:
        template += rng.choice(THIRD)
    piece = render(template, slots)
    asked = rng.randrange(k)
    who = rng.choice(sources[asked][1])
    loc = _loc(world)
    if air:
        question = rng.choice(Q_SOURCE_AIR[asked]).format(aw=world.aw, who=who, loc=loc)
    else:
        question = rng.choice(Q_SOURCE_KILLED).format(who=who, loc=loc)
    return piece, _cap(question), f"n{asked}"


def _absent_source(world: World) -> tuple[Piece, str, str]:
    """Two sources quoted, a third named in the question: nobody gives its figure."""
    piece, _, _ = _source(world)
    pool = [qs for written, qs in _sources(world, 12) if written.lower() not in piece.text.lower()]
    who = world.rng.choice(world.rng.choice(pool))
    question = world.rng.choice(Q_SOURCE_KILLED).format(who=who, loc=_loc(world))
    return piece, _cap(question), who


def _paragraph(world: World, body: Piece) -> tuple[str, int]:
    """A lead, the body and one to three distractors (after the body): the text, and where
    the body starts in it."""
    rng = world.rng
    lead = capitalize(render(rng.choice(LEAD), world.base_slots()))
    pieces = [lead, body]
    for template in rng.sample(DISTRACTORS, rng.randint(1, 3)):
        pieces.insert(rng.randint(2, len(pieces)), capitalize(distractor(world, template)))
    offset = len(lead.text) + 1
    return " ".join(piece.text for piece in pieces), offset


def _one(rng: random.Random, index: int, seed: int) -> QAExample:
    kinds, weights = zip(*KINDS, strict=True)
    kind = rng.choices(kinds, weights=weights)[0]
    for _ in range(200):
        world = World(rng)
        if kind.startswith("update"):
            body, question, key = _update(world, earlier=kind == "update_earlier")
        elif kind == "source":
            body, question, key = _source(world)
        else:
            body, question, who = _absent_source(world)
            key = ""
        body = capitalize(body)
        text, offset = _paragraph(world, body)
        if not MIN_WORDS <= len(text.split()) <= MAX_WORDS:
            continue
        ex_id = f"{SOURCE}-{seed}-{index:06d}-{kind}"
        if not key:
            if who.lower().removeprefix("the ") in text.lower():
                continue
            return QAExample(ex_id, question, text, (), -1, SOURCE)
        s, e = body.spans[key]
        start = offset + s
        answer = text[start : offset + e]
        assert answer == body.text[s:e] and answer.strip() == answer
        return QAExample(ex_id, question, text, (answer,), start, SOURCE)
    raise RuntimeError(f"no valid synthetic example after 200 tries (index {index})")


def generate(n: int, seed: int = 0) -> list[QAExample]:
    """`n` examples of updated and disputed figures, identical for the same `seed`."""
    rng = random.Random(seed)
    return [_one(rng, i, seed) for i in range(n)]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--samples", type=int, default=6)
    args = parser.parse_args(argv)
    show(generate(args.n, args.seed), args.samples)


if __name__ == "__main__":
    main()
