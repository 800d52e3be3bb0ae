"""Who a question is asked about, in the words evidence uses for them.

A question about "pregnant women" is answered by a sentence about "pregnancy" or "prenatal"
care, and one about a "baby" by a sentence about "infants". :func:`kin` maps the stemmed
content terms (:func:`answer.terms.content_terms`) of such words to one name per group of
people, so that a question's people and a sentence's can be compared as sets.

Example:
    >>> from answer.terms import content_terms
    >>> kin(content_terms("pregnant women")) & kin(content_terms("Anemia during pregnancy."))
    frozenset({'pregnant'})
"""

from __future__ import annotations

from collections.abc import Iterable

# Stems (answer.terms.content_terms) of the words for one group of people, by group.
_GROUPS = {
    "pregnant": ("pregnant", "pregnanc", "prenat", "antenat"),
    "infant": ("infant", "babi", "newborn", "neonat", "neonatal"),
    "child": ("child", "children", "kid", "pediatr", "paediatr"),
    "woman": ("woman", "women", "femal"),
    "man": ("man", "men", "male"),
    "older": ("older", "elder", "senior"),
    "adolescent": ("adolesc", "teen", "teenag"),
}
_KIN = {stem: group for group, stems in _GROUPS.items() for stem in stems}
SUBGROUPS = frozenset({"pregnant", "infant", "child", "older", "adolescent"})
"""The groups a sentence narrows an answer to ("... in infants and young children"); men and
women together are everyone ("Levels above 300 µg/L in men and 200 µg/L in women ...")."""


def kin(terms: Iterable[str]) -> frozenset[str]:
    """``terms`` with every word for a group of people replaced by the group's name."""
    return frozenset(_KIN.get(term, term) for term in terms)
