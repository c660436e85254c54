"""join_rule.py - the CLIP-C caption join of docs/compose.md, written again
from the documentation as the tests' independent oracle (compose.sh):
"A and B", A without its final run of punctuation and white space, B's
first letter lowered only for a plain capitalised word."""

FUNC = set("a about above after all along an another around as at behind beside both by close each eight "
           "every few five for four from he her here his in inside it its many my near next nine no of on "
           "one our outside over several she seven six some ten that the their there these they this those "
           "three two under we while with you your".split())


def acronym(b):
    letters = 0
    for c in b:
        if c.isspace():
            break
        if c.isupper():
            letters += 1
        elif c.isalpha():
            return False
        elif not (c.isdigit() or c in ".-"):
            break
    return letters >= 2
def lower_first(b):
    if not b or not b[0].isupper() or acronym(b):
        return False
    n = 1
    while n < len(b) and b[n].isalpha():
        if not b[n].islower():
            return False
        n += 1
    if b[:n] == "I":
        return False
    if b[:n].lower() in FUNC:
        return True
    rest = b.split(None, 1)
    return not (len(rest) > 1 and rest[1][0].isupper())
def merge(a, b):
    # docs/compose.md: A loses its whole final run of punctuation and white
    # space; B's first letter is lowered only for a plain capitalised word
    a = a.rstrip(" \t\r\n.,;:!?\u2026")
    b = b.strip()
    return a + " and " + (b[:1].lower() + b[1:] if lower_first(b) else b)
