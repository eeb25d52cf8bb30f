"""Parameter plumbing shared across the families: expanding parameters, probs-or-logits, views, loc-centering.

Bernoulli, Binomial, Geometric, NegativeBinomial, ContinuousBernoulli and LogitRelaxedBernoulli all store
whichever of ``probs``/``logits`` they were given, derive the other lazily, and expand the stored ones.
"""
from ndgrad.tensor import Size

from .distribution import Distribution
from .utils import broadcast_all, lazy_property, logits_to_probs, probs_to_logits


def expand_params(self, cls, batch_shape, names, _instance):
    """The shared body of ``expand``: a new instance whose parameters are expanded views."""
    new = self._get_checked_instance(cls, _instance)
    batch_shape = Size(tuple(batch_shape))
    for name in names:
        if name in self.__dict__:
            setattr(new, name, self.__dict__[name].expand(batch_shape))
    Distribution.__init__(new, batch_shape, validate_args=False)
    new._validate_args = self._validate_args
    return new


def require_exactly_one(probs, logits):
    if (probs is None) == (logits is None):
        raise ValueError("Either `probs` or `logits` must be specified, but not both.")


def set_probs_or_logits(dist, probs, logits, *companions):
    """Store the given one of ``probs``/``logits`` (broadcast with ``companions``) and record it as ``_param``.

    Returns the broadcast companions cast to the parameter's dtype (``total_count`` of Binomial and friends).
    """
    require_exactly_one(probs, logits)
    name, given = ("probs", probs) if probs is not None else ("logits", logits)
    *others, param = broadcast_all(*companions, given)
    setattr(dist, name, param)
    dist._param = param
    return [other.type_as(param) for other in others]


def expand_probs_or_logits(dist, cls, batch_shape, _instance, companions=()):
    """``expand`` for these families: companions and the stored probs/logits become expanded views."""
    new = expand_params(dist, cls, batch_shape, tuple(companions) + ("probs", "logits"), _instance)
    new._param = new.probs if "probs" in dist.__dict__ else new.logits
    return new


class GivenParamShape:
    """``param_shape``: the shape of the parameter the distribution was built from."""

    @property
    def param_shape(self):
        return self._param.shape


class BinaryProbsLogits:
    """Success probability and log-odds of a binary event, each derived lazily from the other."""

    @lazy_property
    def logits(self):
        return probs_to_logits(self.probs, is_binary=True)

    @lazy_property
    def probs(self):
        return logits_to_probs(self.logits, is_binary=True)


class CategoricalView:
    """``probs``, ``logits`` and ``param_shape`` read from the wrapped ``self._categorical``."""

    @property
    def probs(self):
        return self._categorical.probs

    @property
    def logits(self):
        return self._categorical.logits

    @property
    def param_shape(self):
        return self._categorical.param_shape


class CenteredAtLoc:
    """``mean`` and ``mode`` of a family symmetric and unimodal about ``self.loc`` (Normal, Laplace, ...)."""

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc
