"""Back-testing of priced lines against their experience (issue 7).

One module per concept: ``triangles`` (chain-ladder development to ultimate, Mack standard errors),
``stats`` (actual vs expected with exact intervals, PIT, Kupiec, CRPS), ``credibility``
(Bühlmann–Straub), ``indications`` (rate indications and maximum-likelihood recalibration),
``store`` (the SQLite run store).
"""
