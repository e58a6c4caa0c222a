#!/usr/bin/env python3
"""Synthetic watchlist for bench/screening.sh: portable SQL on stdout, screen requests in a file.

    python3 bench/screening_data.py ENTRIES QUERIES_FILE > entries.sql
    python3 bench/screening_data.py --adversarial ENTRIES QUERIES_FILE > entries.sql

The SQL inserts ENTRIES rows into the live environment in one transaction, 500 rows per
statement, as rows written before the screening index existed (index_version 0), so that the
resource API indexes them when it starts. Names are a given name from a fixed list and a
surname made of syllables, so prefixes and consonant skeletons collide as they do in real
lists; a third of the entries have aliases (word-order swaps, misspellings, initials).

QUERIES_FILE gets one JSON request body per line: a third exact names of entries, a third
misspelled names of entries (one letter changed, dropped or doubled), a third names that are
not listed. The same seed gives the same data every run.

With --adversarial, the attack of issue 21 follows the ENTRIES ordinary entries: 200 entries
whose name and 20 aliases are each 66 two-letter words (197 characters, within the limits), all
drawn from a dozen syllables so that every one of them is a candidate of a screen made the same
way; QUERIES_FILE then holds 30 such names (each the name of an adversarial entry with a few
words changed), the most expensive screens those entries allow.
"""

import json
import random
import sys

GIVEN = """james mary john patricia robert jennifer michael linda william elizabeth david barbara
richard susan joseph jessica thomas sarah charles karen mohammed ahmed ali fatima omar aisha
hassan yusuf ibrahim layla vladimir sergei dmitri olga natalia ivan alexei tatiana mikhail
anastasia wei li ming hui jun xiu jose maria juan carmen luis ana carlos lucia miguel sofia
pierre marie jean claire hans anna klaus greta lars ingrid giovanni giulia marco chiara kenji
yuki hiroshi sakura raj priya amit sunita arjun kavya emeka ngozi chinedu amara kwame abena
kofi ama tariq zainab bilal samira viktor elena andrei irina pavel oksana nikolai svetlana
grigori ludmila abdul rashid khalid noor farid leila hamza yasmin""".split()

ONSETS = ["b", "ch", "d", "f", "g", "h", "j", "k", "kh", "l", "m", "n", "p", "r", "s", "sh",
          "t", "v", "w", "y", "z", "br", "gr", "kr", "st", "tr", ""]
VOWELS = ["a", "e", "i", "o", "u", "ai", "ou", "ia"]
CODAS = ["", "", "", "n", "r", "l", "s", "k", "v", "ff", "m", "d", "sk", "nt"]
SUFFIXES = ["", "", "", "ov", "ova", "enko", "son", "sen", "ez", "ski", "ian", "i", "berg", "ani"]
COUNTRIES = ["GB", "US", "RU", "IR", "KP", "VE", "NG", "CN", "DE", "FR", "AE", "PK", "SY", "LB",
             "ES", "IT", "IN", "BR", "ZA", "TR", None]
ENTITY_WORDS = ["trading", "holdings", "shipping", "logistics", "capital", "group", "industries",
                "petroleum", "metals", "finance"]


def surname(rng):
    syllables = rng.choice([2, 2, 3])
    word = "".join(rng.choice(ONSETS) + rng.choice(VOWELS) + rng.choice(CODAS)
                   for _ in range(syllables))
    return (word + rng.choice(SUFFIXES)).capitalize()


def misspell(rng, name):
    letters = list(name)
    positions = [i for i, c in enumerate(letters) if c.isalpha() and i > 0]
    i = rng.choice(positions)
    kind = rng.choice(["change", "drop", "double"])
    if kind == "change":
        letters[i] = rng.choice("aeioulnrst")
    elif kind == "drop":
        del letters[i]
    else:
        letters.insert(i, letters[i])
    return "".join(letters)


def person(rng):
    given = rng.choice(GIVEN).capitalize()
    family = surname(rng)
    if rng.random() < 0.2:
        return f"{given} {rng.choice(GIVEN).capitalize()} {family}", given, family
    return f"{given} {family}", given, family


def sql_text(value):
    if value is None:
        return "NULL"
    return "'" + value.replace("'", "''") + "'"


# Two-letter words: each is keyed (a name with no word of three letters has all its words
# keyed), and the few of them make every adversarial entry share keys with every such query.
SYLLABLES = ["ka", "ri", "mo", "na", "lu", "se", "ta", "bo", "di", "fe", "gu", "pa"]
ADVERSARIAL_ENTRIES = 200
ADVERSARIAL_WORDS = 66


def adversarial_name(rng):
    return " ".join(rng.choice(SYLLABLES) for _ in range(ADVERSARIAL_WORDS))


def similar(rng, name):
    """The name with four of its words replaced."""
    words = name.split()
    for i in rng.sample(range(len(words)), 4):
        words[i] = rng.choice(SYLLABLES)
    return " ".join(words)


def adversarial_rows(rng, first):
    rows, names = [], []
    for n in range(first, first + ADVERSARIAL_ENTRIES):
        name = adversarial_name(rng)
        aliases = [adversarial_name(rng) for _ in range(20)]
        names.append(name)
        rows.append("('wl_bench{:013d}', 'live', {}, {}, 'person', NULL, NULL, 'bench-list', '', {}, {})".format(
            n, sql_text(name), sql_text(json.dumps(aliases)), 1767225600000000 + n, 1767225600000000 + n))
    return rows, names


def main():
    adversarial = sys.argv[1] == "--adversarial"
    args = sys.argv[2:] if adversarial else sys.argv[1:]
    entries, queries_path = int(args[0]), args[1]
    rng = random.Random(7)
    names = []
    out = sys.stdout
    out.write("BEGIN;\n")
    batch = []
    for n in range(entries):
        if rng.random() < 0.85:
            name, given, family = person(rng)
            aliases = []
            if rng.random() < 0.33:
                aliases.append(f"{family} {given}")
                if rng.random() < 0.5:
                    aliases.append(misspell(rng, name))
                if rng.random() < 0.3:
                    aliases.append(f"{given[0]}. {family}")
            entry_type = "person"
            dob = (f"{rng.randint(1940, 2000)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
                   if rng.random() < 0.7 else None)
        else:
            name = f"{surname(rng)} {rng.choice(ENTITY_WORDS).capitalize()} LLC"
            aliases = [name.replace(" LLC", "")] if rng.random() < 0.3 else []
            entry_type = "entity"
            dob = None
        names.append(name)
        batch.append("('wl_bench{:013d}', 'live', {}, {}, {}, {}, {}, 'bench-list', '', {}, {})".format(
            n, sql_text(name), sql_text(json.dumps(aliases)), sql_text(entry_type),
            sql_text(rng.choice(COUNTRIES)), sql_text(dob),
            1767225600000000 + n, 1767225600000000 + n))
        if len(batch) == 500 or n == entries - 1:
            out.write("INSERT INTO watchlist_entries (id, environment, name, aliases, entry_type, "
                      "country, date_of_birth, list_source, reason, created_at, updated_at) VALUES\n")
            out.write(",\n".join(batch))
            out.write(";\n")
            batch = []
    if adversarial:
        rows, adversarial_names = adversarial_rows(random.Random(21), entries)
        for start in range(0, len(rows), 50):
            out.write("INSERT INTO watchlist_entries (id, environment, name, aliases, entry_type, "
                      "country, date_of_birth, list_source, reason, created_at, updated_at) VALUES\n")
            out.write(",\n".join(rows[start:start + 50]))
            out.write(";\n")
    out.write("COMMIT;\n")

    if adversarial:
        qrng = random.Random(22)
        with open(queries_path, "w") as f:
            for i in range(30):
                f.write(json.dumps({"name": similar(qrng, adversarial_names[i * 6])}) + "\n")
        return
    with open(queries_path, "w") as f:
        for i in range(300):
            if i % 3 == 0:
                query = rng.choice(names)
            elif i % 3 == 1:
                query = misspell(rng, rng.choice(names))
            else:
                query = person(rng)[0]
            f.write(json.dumps({"name": query}) + "\n")


if __name__ == "__main__":
    main()
