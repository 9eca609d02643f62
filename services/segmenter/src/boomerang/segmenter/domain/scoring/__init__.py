"""Customer scoring: RFM, historic and predicted CLV, BG/NBD, Gamma-Gamma, lapse score.

Pure functions and frozen dataclasses over numpy arrays; no I/O, no clock (`now` is passed in).
`fit` builds a `ScoringModel` from a store's transactions; the model serialises to JSON and
scores customers (`ScoringModel.score` over a `Summary`, `score_customer` for one).
"""

from boomerang.segmenter.domain.scoring.bgnbd import BgNbdParams
from boomerang.segmenter.domain.scoring.gamma_gamma import GammaGammaParams
from boomerang.segmenter.domain.scoring.history import WEEK, Summary, Transactions, summarise, summary_of
from boomerang.segmenter.domain.scoring.model import (
    MODEL_KIND,
    MODEL_VERSION,
    CustomerScores,
    ScoringConfig,
    ScoringModel,
    Scores,
    State,
    fit,
)
from boomerang.segmenter.domain.scoring.percentile import PercentileScale
from boomerang.segmenter.domain.scoring.rfm import RfmEdges

__all__ = [
    "MODEL_KIND",
    "MODEL_VERSION",
    "WEEK",
    "BgNbdParams",
    "CustomerScores",
    "GammaGammaParams",
    "PercentileScale",
    "RfmEdges",
    "Scores",
    "ScoringConfig",
    "ScoringModel",
    "State",
    "Summary",
    "Transactions",
    "fit",
    "summarise",
    "summary_of",
]
