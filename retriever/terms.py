"""Stop words: the one list of English function words, and what a conversation adds to it.

:data:`STOP_WORDS` are the words that carry no topic in any text: function words, plus the
question words of MedQuAD headings ("What is (are) ..."). The answer layer leaves them out of a
sentence's content terms (:func:`answer.terms.content_terms`).

:data:`QUERY_STOP_WORDS` adds the words of conversation that carry no topic in a question
("thanks", "please", "what's", "something", "use"): the follow-up retriever does not carry them
into the next query or count them as shared topic words, and key terms and feedback words
leave them out.

Neither is the BM25 index's own list (Lucene's 33 words, :mod:`index.lexical`), which keeps
question words such as "what", "which" and "does": that one decides what is indexed, so it is
part of the index format.
"""

from __future__ import annotations

STOP_WORDS = frozenset(
    """
    a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing down during each few
    for from further get had has have having he her here hers herself him himself his how i
    if in into is it its itself just know many may me might more most much must my myself no
    nor not now of off on once only or other our ours ourselves out over own same shall she
    should so some such tell than that the their theirs them themselves then there these
    they this those through to too under until up very was we were what when where which
    while who whom why will with would you your yours yourself yourselves
    """.split()  # noqa: SIM905 - a word list reads better as text
)

QUERY_STOP_WORDS = STOP_WORDS | frozenset(
    """
    anything aren't can't cannot couldn't didn't doesn't don't else ever every gets getting
    give go going got hadn't hasn't haven't however i'm isn't it's let like ll make mean
    need often one others please really right said say see shouldn't something still sure
    take thank thanks that's there's they're thing things think us use used using ve want
    wasn't way well weren't what's whose won't wouldn't yes yet
    """.split()  # noqa: SIM905 - a word list reads better as text
)
