"""Does a sentence fit the type of a question? Vocabulary rules, pure and cheap.

An answer to "What dose?" should quote a sentence with an amount in it, one to "What causes
X?" a sentence that says what causes it. :func:`fits_type` checks a candidate sentence against
the question's :class:`~retriever.question.QuestionType` with the cue vocabulary of that type,
kept in one table (:data:`VOCABULARY`):

* DOSAGE needs a dose: an amount with a dose unit, not a blood concentration such as
  "0.5 g/dl" or "300 ng/mL" (:func:`has_dose`).
* RELATION needs a relational or comparative word and, when the question has two or more focus
  concepts, at least two of them mentioned in the sentence (with one focus concept, that one).
* DEFINITION needs a sentence that mentions a focus concept; with no focus, a copula definition
  ("X is a ...", "X is (are) ...").
* OTHER always fits.
* Every other type needs a word of its vocabulary.

These are necessary conditions for a good answer sentence, not sufficient ones: the caller
still ranks by relevance.

Example:
    >>> fits_type(QuestionType.DOSAGE, "This reduction is maximally achieved by doses of 0.4 mg/d.")
    True
    >>> fits_type(QuestionType.CAUSE, "Antacids, however, can have side effects.")
    False
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from answer.terms import content_terms
from retriever.concepts import SYMPTOM_WORDS, Concept
from retriever.question import QuestionType
from retriever.terms import STOP_WORDS


def _alternatives(words: Sequence[str] | frozenset[str]) -> str:
    return "|".join(
        re.escape(w).replace(r"\ ", r"\s+") for w in sorted(words, key=len, reverse=True)
    )


_SYMPTOMS = _alternatives(SYMPTOM_WORDS)

VOCABULARY: dict[QuestionType, re.Pattern[str]] = {
    QuestionType.TREATMENT: re.compile(
        r"\b(?:treat(?:s|ed|ing|ments?|able)?|therap(?:y|ies|eutic)|supplement(?:s|ed|ation)?|"
        r"inject(?:ion|ions|ed)?|transfusions?|medicines?|medications?|drugs?|tak(?:e|es|en|ing)|"
        r"given|giv(?:e|ing)|prescri(?:be|bed|bing|ption|ptions)|diet(?:ary)?\s+changes?|"
        r"cur(?:e|es|ed)|manag(?:e|ed|ing|ement)|surgery|surgical|transplant(?:ation)?|"
        r"replacement|intravenous|oral|remed(?:y|ies)|reliev(?:e|es|ed|ing)|first-line|"
        r"recommended|administ(?:er|ered|ration))\b",
        re.IGNORECASE,
    ),
    QuestionType.CAUSE: re.compile(
        r"\b(?:caus(?:e|es|ed|ing)|due\s+to|results?\s+(?:from|in)|resulting\s+from|"
        r"lead(?:s|ing)?\s+to|led\s+to|because|risk\s+factors?|trigger(?:s|ed)?|"
        r"responsible\s+for|arises?\s+from|stems?\s+from|attributed\s+to|etiology|aetiology|"
        r"mutations?\s+in|when\s+the\s+body\s+(?:can(?:not|'t)|does\s+not|doesn't|is\s+unable))\b",
        re.IGNORECASE,
    ),
    QuestionType.SYMPTOMS: re.compile(
        r"\b(?:symptoms?|signs?|symptomatic|present(?:s|ed)?\s+with|complain(?:s|ed)?\s+of|"
        r"weak|pale|short\s+of\s+breath|" + _SYMPTOMS + r")\b",
        re.IGNORECASE,
    ),
    QuestionType.DIAGNOSIS: re.compile(
        r"\b(?:tests?|test(?:ed|ing)|diagnos(?:e|ed|es|is|tic|ing)|levels?|measur(?:e|ed|es|"
        r"ing|ement|ements)|blood\s+counts?|range|high|low|elevated|indicat(?:e|es|ed|ing|ion)|"
        r"means?|screen(?:ing|ed)?|detect(?:s|ed|ion)?|biopsy|scan|x-rays?|ultrasound|"
        r"endoscopy|examination|exam|results?|normal|reference\s+(?:range|interval)|cut-?off|"
        r"deficient|confirm(?:s|ed)?)\b",
        re.IGNORECASE,
    ),
    QuestionType.RELATION: re.compile(
        r"\b(?:associat(?:ed|ion|ions)|correlat(?:e|ed|es|ion|ions)|relat(?:ed|ion|ionship)|"
        r"higher|lower|increas(?:e|ed|es|ing)|decreas(?:e|ed|es|ing)|linked|links?|inverse(?:ly)?|"
        r"predict(?:s|ed|or|ors|ive)?|between|compared|than|reduc(?:e|ed|es|tion)|elevated|"
        r"depend(?:s|ent|ing)?|affect(?:s|ed)?|influenc(?:e|es|ed)|independent(?:ly)?|"
        r"effect\s+of|contribut(?:e|es|ed))\b",
        re.IGNORECASE,
    ),
    QuestionType.RISK: re.compile(
        r"\b(?:risk|at\s+risk|inherit(?:ed|ance|s)?|hereditary|genetic|genes?|autosomal|"
        r"dominant|recessive|x-linked|famil(?:y|ial|ies)|carriers?|susceptib(?:le|ility)|"
        r"predispos(?:ed|ition)|contagious|infectious|transmit(?:ted|s)?|transmission|"
        r"spread(?:s)?|more\s+common|more\s+likely|prevalence|incidence|exposure|affect(?:s|ed)?|"
        # how many: "About half of all pregnant women ...", "1 in 12", "5 percent", "rare"
        r"(?:about|nearly|almost|over|more\s+than|less\s+than)\s+(?:half|a\s+third|a\s+quarter|"
        r"one\s+in)|\d[\d,]*\s+(?:in|out\s+of)\s+(?:every\s+)?\d[\d,]*|"
        r"\d+(?:\.\d+)?\s*(?:%|percent)|common|uncommon|rare)"
        r"\b",
        re.IGNORECASE,
    ),
    QuestionType.PREVENTION: re.compile(
        r"\b(?:prevent(?:s|ed|ing|ion|ive)?|avoid(?:s|ed|ing)?|vaccin(?:e|es|ated|ation)|"
        r"immuni[sz](?:e|ed|ation)|protect(?:s|ed|ion|ive)?|reduc(?:e|es|ing)\s+the\s+risk|"
        r"lower(?:s|ing)?\s+the\s+risk|prophyla(?:xis|ctic)|precautions?|hygiene|screening|"
        r"fortifi(?:ed|cation))\b",
        re.IGNORECASE,
    ),
    QuestionType.PROGNOSIS: re.compile(
        r"\b(?:prognosis|outlook|life\s+expectancy|surviv(?:e|al|ors?)|long[-\s]term|mortality|"
        r"recover(?:y|ed|s)?|progress(?:ion|ive|es)?|outcomes?|die|death|fatal|lifelong|"
        r"remission|depends?\s+on|recur(?:s|rence)?|relapse)\b",
        re.IGNORECASE,
    ),
    QuestionType.COMPLICATIONS: re.compile(
        r"\b(?:complications?|lead(?:s)?\s+to|result\s+in|damage|failure|sequelae?|serious|"
        r"severe|untreated|if\s+left|can\s+cause|may\s+cause)\b",
        re.IGNORECASE,
    ),
    QuestionType.SIDE_EFFECTS: re.compile(
        r"\b(?:side[-\s]effects?|adverse\s+(?:effects?|events?|reactions?)|toxicity|toxic|"
        r"intoleran(?:ce|t)|reactions?|well\s+tolerated|tolerated|safe(?:ty)?|allerg(?:y|ic)|"
        r"upset\s+stomach|nausea|constipation|overdose|harmful|poisoning)\b",
        re.IGNORECASE,
    ),
    QuestionType.INTERACTION: re.compile(
        r"\b(?:interact(?:s|ion|ions|ing)?|together\s+with|at\s+the\s+same\s+time|"
        r"combined\s+with|combination|taken\s+with|absorption|absorb(?:s|ed)?|inhibit(?:s|ed|or|"
        r"ors)?|interfer(?:e|es|ence)|hours\s+(?:before|after|apart)|separate(?:ly)?)\b",
        re.IGNORECASE,
    ),
    QuestionType.COMPARISON: re.compile(
        r"\b(?:compar(?:e|ed|ison|able)|than|versus|vs|differen(?:ce|ces|t)|differ(?:s)?|unlike|"
        r"whereas|similar(?:ly)?|better|worse|both|while|on\s+the\s+other\s+hand|in\s+contrast|"
        r"mistaken|confused|mimic(?:s|ked)?|distinguish(?:ed)?|differentiate[ds]?|or\s+whether)"
        r"\b",
        re.IGNORECASE,
    ),
}
"""Cue vocabulary of each question type that is checked by vocabulary alone or in part
(RELATION adds a mention rule; DOSAGE, DEFINITION and OTHER have their own rules)."""

_NUMBER = r"(?<![\w.])\d+(?:[.,]\d+)*(?:\s*(?:-|–|to)\s*\d+(?:[.,]\d+)*)?"
_UNIT = (
    r"(?:mg|mcg|µg|μg|ug|g|kg|iu|i\.u\.|ml|l|ng|pg|pmol|nmol|µmol|μmol|mmol|mol|meq|units?|"
    r"micrograms?|milligrams?|grams?|international\s+units?|drops?|tablets?|capsules?|puffs?|"
    r"sprays?)"
)
_AMOUNT = re.compile(
    _NUMBER + r"\s*" + _UNIT + r"(?:\s*/\s*(?:d|day|dl|l|ml|kg|week|wk|h|hr|dose|m2))*(?![\w])",
    re.IGNORECASE,
)

_COPULA_DEFINITION = re.compile(
    r"^\W*[\w(][\w\s,'()-]{0,80}?\s(?:is|are)\s(?:\(are\)\s)?(?:a|an|the|one|any|defined|"
    r"characteri[sz]ed|known|called|made|caused|part|used)\b",
    re.IGNORECASE,
)


def has_amount(text: str) -> bool:
    """Whether ``text`` states an amount: a number with a dose or concentration unit.

    Example:
        >>> has_amount("High-dose folic acid (5 mg/d) improves endothelial function.")
        True
        >>> has_amount("Vitamin B12 is found in animal foods.")
        False
    """
    return _AMOUNT.search(text) is not None


# Units of what is measured in blood, not of what is taken: an amount in them is no dose.
_CONCENTRATION = re.compile(
    r"(?:/\s*(?:dl|l|ml|mm3|µl|μl|ul)\b|(?:pg|ng|pmol|nmol|µmol|μmol|mmol|mol|meq|fl)\b)",
    re.IGNORECASE,
)


def has_dose(text: str) -> bool:
    """Whether ``text`` states a dose: an amount whose unit is not a concentration.

    Example:
        >>> has_dose("High-dose folic acid (5 mg/d) improves endothelial function.")
        True
        >>> has_dose("Hemoglobin was 0.5 to 1.0 g/dl lower in blacks than in whites.")
        False
    """
    return any(_CONCENTRATION.search(m.group()) is None for m in _AMOUNT.finditer(text))


# A question about reading a value ("What does a high ferritin mean?") needs a sentence about
# values in that direction.
_DIRECTIONS = {
    "high": re.compile(
        r"\b(?:high|higher|highest|elevated|raised|increased|increase[sd]?|excess\w*|"
        r"too much|overload)\b",
        re.IGNORECASE,
    ),
    "low": re.compile(
        r"\b(?:low|lower|lowest|decreased|decrease[sd]?|reduced|too little|depleted)\b",
        re.IGNORECASE,
    ),
}
# A deficiency speaks of low values in an answer; in a question it names a condition ("What
# blood tests diagnose iron-deficiency anemia?" asks no reading of a low value).
_DEFICIENT = re.compile(r"\bdeficien\w*", re.IGNORECASE)


def direction_of(question: str) -> str | None:
    """ "high" or "low" when ``question`` asks about a value in one direction, else ``None``.

    Example:
        >>> direction_of("What does a high ferritin mean?")
        'high'
    """
    found = [name for name, pattern in _DIRECTIONS.items() if pattern.search(question)]
    return found[0] if len(found) == 1 else None


def states_direction(text: str, direction: str) -> bool:
    """Whether ``text`` speaks of values in ``direction`` ("high" or "low")."""
    if direction == "low" and _DEFICIENT.search(text):
        return True
    return _DIRECTIONS[direction].search(text) is not None


# "Which blood tests show it?" asks for tests by name: "The serum ferritin test ...", not
# "Experts recommend testing for hemochromatosis ...".
_WHICH_TEST = re.compile(
    r"\b(?:which|what)\s+(?:kinds?\s+of\s+|\w+\s+)?(?:tests?|exams?|scans?)\b", re.IGNORECASE
)
_GENERIC = (
    r"a|an|the|this|that|these|those|either|both|each|one|other|such|further|more|blood|lab|"
    r"laboratory|special|simple|genetic|diagnostic|screening|medical|physical"
)
_NAMED_TEST = re.compile(
    rf"\b(?!(?:{_GENERIC}|{'|'.join(sorted(STOP_WORDS))})\b)[a-z][\w-]*(?:\s+(?:saturation|level|levels|count))?\s+tests?\b|"
    r"\b(?:complete\s+blood\s+count|CBC|biops(?:y|ies)|MRI|ultrasound|X-rays?|CT\s+scans?)\b",
    re.IGNORECASE,
)


def asks_which_test(question: str) -> bool:
    """Whether ``question`` asks which tests (or exams) to do or show something."""
    return _WHICH_TEST.search(question) is not None


def names_test(text: str) -> bool:
    """Whether ``text`` names a particular test.

    Example:
        >>> names_test("The serum ferritin test detects the amount of ferritin in the blood.")
        True
        >>> names_test("Experts recommend testing for hemochromatosis in people with symptoms.")
        False
    """
    return _NAMED_TEST.search(text) is not None


# "Who needs extra folic acid?" asks for people: "... very important for pregnant women".
_WHO = re.compile(r"^\W*who\b|\b(?:which|what)\s+(?:people|patients|groups?)\b", re.IGNORECASE)
_PEOPLE = re.compile(
    r"\b(?:wom[ae]n|m[ae]n|child(?:ren)?|kids?|infants?|bab(?:y|ies)|newborns?|people|persons?|"
    r"adults?|adolescents?|teens?|teenagers?|elderly|patients?|vegetarians?|vegans?|mothers?|"
    r"girls?|boys?|pregnant|pregnancy|anyone|everyone|individuals?|those\s+who)\b",
    re.IGNORECASE,
)


def asks_who(question: str) -> bool:
    """Whether ``question`` asks which people something concerns ("Who needs ...?")."""
    return _WHO.search(question) is not None


def names_people(text: str) -> bool:
    """Whether ``text`` names a group of people.

    Example:
        >>> names_people("Folic acid also is very important for pregnant women.")
        True
        >>> names_people("Your body needs folic acid to make and maintain new cells.")
        False
    """
    return _PEOPLE.search(text) is not None


# "At what age should one receive the shingles vaccine?" asks for an age: "Adults 60 years old
# or older should ...".
_WHAT_AGE = re.compile(r"\b(?:at\s+)?(?:what|which)\s+age\b|\bhow\s+old\b", re.IGNORECASE)
_AGE = re.compile(
    r"\b\d+(?:\s*(?:-|to|and)\s*\d+)?\s*(?:years?|months?|weeks?)[\s-]+(?:old|of\s+age)\b|"
    r"\b(?:ages?|aged)\s+\d+|\b(?:older|younger)\s+than\s+(?:age\s+)?\d+|"
    r"\b\d+\s+(?:and|or)\s+(?:older|over|younger|under)\b|\b(?:over|under)\s+the\s+age\s+of\s+\d+",
    re.IGNORECASE,
)


def asks_age(question: str) -> bool:
    """Whether ``question`` asks at what age something happens or is done."""
    return _WHAT_AGE.search(question) is not None


def states_age(text: str) -> bool:
    """Whether ``text`` states an age.

    Example:
        >>> states_age("Adults 60 years old or older should talk to their healthcare professional.")
        True
        >>> states_age("If you have already had shingles, you can receive the shingles vaccine.")
        False
    """
    return _AGE.search(text) is not None


# "What is the normal range for ferritin?" asks for values: "Levels above 300 µg/L in men and
# 200 µg/L in women are considered abnormal." (a limit, below); a goal ("the low end of the
# average range") gives none.
_ASKS_VALUE = re.compile(
    r"\b(?:normal|reference|healthy|target|safe)\s+(?:[\w-]+\s+){0,2}?(?:ranges?|levels?|values?|"
    r"results?|limits?)\b|"
    r"\bwhat\s+(?:level|value|number)s?\b|\bhow\s+(?:high|low)\s+(?:is|are|should|can|must)\b",
    re.IGNORECASE,
)


# A limit or a range: "above 300 µg/L", "below 13 g/dL", "25 to 50 µg/L"; a difference
# ("0.5 to 1.0 g/dl lower than ...") is none.
_LIMIT = re.compile(
    r"(?:\b(?:above|below|over|under|between|less\s+than|more\s+than|greater\s+than|lower\s+than|"
    r"higher\s+than|at\s+least|at\s+most|up\s+to|exceed(?:s|ing)?)\s+(?:about\s+)?"
    + _NUMBER
    + r"|(?<![\w.])\d+(?:[.,]\d+)*\s*(?:-|–|to)\s*\d+(?:[.,]\d+)*)\s*"
    + _UNIT
    + r"(?:\s*/\s*[a-z0-9]+)*+(?![\w])(?!\s+(?:lower|higher|less|more|greater)\b)",
    re.IGNORECASE,
)


def asks_value(question: str) -> bool:
    """Whether ``question`` asks for values of a measure ("What is the normal range for ...?")."""
    return _ASKS_VALUE.search(question) is not None


def states_limit(text: str) -> bool:
    """Whether ``text`` gives a limit or a range of a measure, with its unit.

    Example:
        >>> states_limit("Levels above 300 µg/L in men and 200 µg/L in women are abnormal.")
        True
        >>> states_limit("Blacks have a hemoglobin averaging about 0.5 g/dl less than whites.")
        False
    """
    return _LIMIT.search(text) is not None


# "How long does treatment last?" asks for a time: "People who have pernicious anemia may need
# lifelong treatment.", "... within months".
_HOW_LONG = re.compile(r"\bhow\s+long\b", re.IGNORECASE)
_DURATION = re.compile(
    r"\b(?:lifelong|life-long|for\s+life|rest\s+of\s+(?:your|their|his|her)\s+li(?:fe|ves)|"
    r"permanent(?:ly)?|indefinitely|chronic|"
    r"(?:\d+|a\s+few|several|many)(?:\s*(?:-|to)\s*\d+)?\s*(?:days?|weeks?|months?|years?)|"
    r"(?:within|for|over)\s+(?:a\s+few\s+|several\s+)?(?:days|weeks|months|years))\b",
    re.IGNORECASE,
)


def asks_duration(question: str) -> bool:
    """Whether ``question`` asks how long something takes or lasts."""
    return _HOW_LONG.search(question) is not None


def states_duration(text: str) -> bool:
    """Whether ``text`` states how long something takes or lasts.

    Example:
        >>> states_duration("People who have pernicious anemia may need lifelong treatment.")
        True
        >>> states_duration("Pernicious anemia usually is easy to treat with vitamin B12 shots.")
        False
    """
    return _DURATION.search(text) is not None


# "How common is it?" asks how many: "About half of all pregnant women develop ...", "About 1
# in 12 African Americans has ...", "rare". A risk factor is no answer to it.
_HOW_COMMON = re.compile(
    r"\bhow\s+(?:common|rare|frequent|prevalent|often\s+does|many\s+(?:people|women|men|"
    r"children|adults|americans))\b|\b(?:prevalence|incidence)\b",
    re.IGNORECASE,
)
_HOW_MANY = re.compile(
    r"\b(?:about|nearly|almost|over|more\s+than|less\s+than|up\s+to)\s+(?:half|a\s+third|"
    r"a\s+quarter|one\s+in|\d)|\b\d[\d,]*\s+(?:in|out\s+of)\s+(?:every\s+)?\d[\d,]*|"
    r"\b\d+(?:\.\d+)?\s*(?:%|percent)|\b(?:most|many|few)\s+(?:people|cases|women|men|children)\b|"
    r"\b(?:common|uncommon|rare|rarely|prevalence|incidence|affects?\s+(?:about|an\s+estimated))\b",
    re.IGNORECASE,
)


def asks_how_common(question: str) -> bool:
    """Whether ``question`` asks how common something is."""
    return _HOW_COMMON.search(question) is not None


def states_how_common(text: str) -> bool:
    """Whether ``text`` says how common something is.

    Example:
        >>> states_how_common("About half of all pregnant women develop iron-deficiency anemia.")
        True
        >>> states_how_common("This may lower your risk of having a low-birth-weight baby.")
        False
    """
    return _HOW_MANY.search(text) is not None


_PURPOSE = re.compile(
    r"\b(?:prevent(?:s|ed|ing)?|protects?|helps?|needed|needs?\b[^.]{0,40}\bto|"
    r"(?:important|essential|necessary|vital|required)\s+(?:for|to)|"
    r"(?:lower|lowers|reduce|reduces|reduced)\s+(?:the\s+|your\s+|her\s+)?risk)\b",
    re.IGNORECASE,
)


def states_purpose(text: str) -> bool:
    """Whether ``text`` says what something does or is needed for: the answer to "Why does
    the body need folic acid?" or "Why does folate matter before pregnancy?".

    Example:
        >>> states_purpose("Getting enough folic acid can prevent major birth defects.")
        True
        >>> states_purpose("Anemia can develop during pregnancy due to low levels of folate.")
        False
    """
    return _PURPOSE.search(text) is not None


# What a treatment is: "treated with blood transfusions, medicines ...", not "An important part
# of managing thalassemias is treating complications".
_MODALITY = re.compile(
    r"\b(?:transfusions?|medicines?|medications?|drugs?|supplements?|pills?|tablets?|"
    r"injections?|shots?|surgery|surgical|transplant\w*|therap(?:y|ies)|chelation|phlebotomy|"
    r"dietary\s+changes?|antibiotics?|infusions?|intravenous|dialysis|vaccines?|removing|"
    r"removal|splenectomy)\b",
    re.IGNORECASE,
)


def answers_specifically(qtype: QuestionType, text: str, focus: Sequence[Concept]) -> bool:
    """Whether ``text``, which fits ``qtype``, gives the specific answer the type asks for: a
    definition of the focus itself for DEFINITION, a named treatment for TREATMENT, a symptom by
    name for SYMPTOMS. Other types have no such refinement. For every type, a sentence that
    names a focus concept only as one item of a list (:func:`listed`) is not specific.

    Example:
        >>> answers_specifically(QuestionType.TREATMENT,
        ...     "Doctors usually can successfully treat iron-deficiency anemia.", [])
        False
        >>> answers_specifically(QuestionType.TREATMENT,
        ...     "The disorders are treated with blood transfusions and medicines.", [])
        True
    """
    if any(listed(text, c) for c in focus):
        return False
    if qtype is QuestionType.DEFINITION:
        return defines(text, focus)
    if qtype is QuestionType.TREATMENT:
        return _MODALITY.search(text) is not None
    if qtype is QuestionType.SYMPTOMS:  # a symptom by name, not "... look for signs of X"
        return _NAMED_SYMPTOM.search(text) is not None
    return True


_NAMED_SYMPTOM = re.compile(rf"\b(?:{_SYMPTOMS})\b", re.IGNORECASE)

# A list of three or more short items: "iron, vitamin B12, or folic acid deficiencies".
_ITEM = r"[\w()-]+(?: [\w()-]+){0,2}"
_LIST = re.compile(rf"{_ITEM}(?:, {_ITEM})+,? (?:and|or) {_ITEM}")


@lru_cache(maxsize=65536)
def listed(text: str, concept: Concept) -> bool:
    """Whether ``text`` names ``concept`` only as one item of a list of three or more: the
    sentence is then about the list, not about the concept.

    Example:
        >>> from retriever.concepts import concept
        >>> listed("People with anemia caused by iron, vitamin B12, or folic acid deficiencies "
        ...        "are usually advised to include sources of these nutrients.", concept("folate"))
        True
        >>> listed("Folic acid also is very important for pregnant women.", concept("folate"))
        False
    """
    return concept.mentioned_in(text) and not concept.mentioned_in(_without_lists(text))


@lru_cache(maxsize=65536)
def _without_lists(text: str) -> str:
    """``text`` with its lists of three or more items cut out (one per sentence, then kept:
    the list pattern backtracks)."""
    return _LIST.sub(" ", text) if ", " in text else text


def fits_type(qtype: QuestionType, text: str, focus: Sequence[Concept] = ()) -> bool:
    """Whether sentence ``text`` can answer a question of type ``qtype`` (module docstring).

    Args:
        qtype: The question's type.
        text: A candidate answer sentence.
        focus: The question's focus concepts (used by CAUSE, COMPLICATIONS, RELATION and
            DEFINITION).

    Returns:
        ``True`` when the sentence has what the type needs.

    Example:
        >>> fits_type(QuestionType.TREATMENT, "Iron supplements are taken by mouth.")
        True
    """
    if qtype in _BY_FOCUS:
        return _fits_focus(qtype, text, tuple(focus))
    return _fits(qtype, text)


# Cached by sentence (and focus, for the types that read it): the same sentences are
# candidates for answer after answer, under ever new focus concepts.
@lru_cache(maxsize=65536)
def _fits(qtype: QuestionType, text: str) -> bool:
    check = _SPECIAL.get(qtype)
    if check is not None:
        return check(text, ())
    return VOCABULARY[qtype].search(text) is not None


@lru_cache(maxsize=65536)
def _fits_focus(qtype: QuestionType, text: str, focus: tuple[Concept, ...]) -> bool:
    return _SPECIAL[qtype](text, focus)


# "X can increase the risk of Y" and "people with X are at risk for Y" (NHLBI: "Strict
# vegetarians who don't ... take a vitamin B12 supplement are at risk for pernicious anemia.")
# answer "Can X cause Y?", though not "Why do people get Y?" (of one concept, it may be Y's own
# effect: "The condition can increase a pregnant woman's risk for a premature ... baby").
_RAISES_RISK = re.compile(
    r"\b(?:increas|rais)(?:e|es|ed|ing)\s+(?:the\s+|your\s+|an?\s+(?:\w+\s+)?\w+'s\s+)?risk\b|"
    r"\b(?:are|is)\s+(?:also\s+)?at\s+(?:\w+\s+)?risk\s+(?:for|of)\b",
    re.IGNORECASE,
)


def _cause(text: str, focus: Sequence[Concept]) -> bool:
    if VOCABULARY[QuestionType.CAUSE].search(text) is not None:
        return True
    return len(focus) >= 2 and _RAISES_RISK.search(text) is not None


def _dosage(text: str, focus: Sequence[Concept]) -> bool:
    return has_dose(text)


def names_next(focus: Sequence[Concept], text: str, position: int, slack: int) -> bool:
    """Whether a focus concept is named right at ``position`` in ``text``: within its name's
    length plus ``slack`` characters (for plurals and spellings: "iron-deficiency anaemias")."""
    return any(c.mentioned_in(text[position : position + len(c.name) + slack]) for c in focus)


def _complications(text: str, focus: Sequence[Concept]) -> bool:
    """What the focus leads to, not what leads to it: "People who get kidney dialysis treatment
    may develop iron-deficiency anemia." is a cause of the anaemia, not a complication."""
    return any(
        not names_next(focus, text, match.end(), slack=12)
        for match in VOCABULARY[QuestionType.COMPLICATIONS].finditer(text)
    )


def _relation(text: str, focus: Sequence[Concept]) -> bool:
    if VOCABULARY[QuestionType.RELATION].search(text) is None:
        return False
    mentioned = sum(c.mentioned_in(text) for c in focus)
    return mentioned >= min(2, len(focus))


def _definition(text: str, focus: Sequence[Concept]) -> bool:
    if focus:
        return any(c.mentioned_in(text) for c in focus)
    return _COPULA_DEFINITION.search(text) is not None


_COPULA = re.compile(r"\s(?:is|are)\s", re.IGNORECASE)
_BRACKETS = re.compile(r"\([^)]*\)")


def defines(text: str, focus: Sequence[Concept]) -> bool:
    """Whether ``text`` is a copula definition ("X is a ...") whose subject is a focus concept
    (any subject when there is no focus).

    Example:
        >>> from retriever.concepts import concept
        >>> defines("Hemochromatosis is a disease in which too much iron builds up in the body.",
        ...         [concept("hemochromatosis")])
        True
        >>> defines("Primary hemochromatosis is an inherited disease.",
        ...         [concept("hemochromatosis")])
        False
    """
    match = _COPULA_DEFINITION.search(text)
    if match is None:
        return False
    if not focus:
        return True
    # The subject is the focus itself: "Hemochromatosis is ...", not "Primary hemochromatosis
    # is ..." (a kind of it); an abbreviation in brackets may follow ("Folic acid (folate) is").
    subject = _BRACKETS.sub(" ", text[: _COPULA.search(match.group()).start()])  # type: ignore[union-attr]
    named = frozenset().union(*(content_terms(" ".join(c.terms)) for c in focus))
    return any(c.mentioned_in(subject) for c in focus) and content_terms(subject) <= named


def _always(text: str, focus: Sequence[Concept]) -> bool:
    return True


_SPECIAL = {
    QuestionType.CAUSE: _cause,
    QuestionType.DOSAGE: _dosage,
    QuestionType.COMPLICATIONS: _complications,
    QuestionType.RELATION: _relation,
    QuestionType.DEFINITION: _definition,
    QuestionType.OTHER: _always,
}
_BY_FOCUS = frozenset(  # the checks that read the focus
    {QuestionType.CAUSE, QuestionType.COMPLICATIONS, QuestionType.RELATION, QuestionType.DEFINITION}
)
