"""Simulated reviewers with known error rates, and what theory expects of them.

Each item has a true label drawn from ``class_prior``; reviewer ``i`` answers
it right with probability ``1 - error_rates[i]``, else a label drawn
uniformly from the other ``K - 1``. Reviewers err independently given the
true label (the Dawid–Skene model with "uniform" confusion). The expected
values below are exact: they enumerate every true label and every
combination of answers with its probability, so tests compare measured
figures with theory, not with figures they measured themselves.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ReviewerPanel:
    labels: tuple[str, ...]
    error_rates: tuple[float, ...]
    class_prior: tuple[float, ...] | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f"r{i}" for i in range(len(self.error_rates)))

    @property
    def prior(self) -> tuple[float, ...]:
        return self.class_prior or tuple(1.0 / len(self.labels) for _ in self.labels)

    def answer_probability(self, reviewer: int, truth: str, given: str) -> float:
        error = self.error_rates[reviewer]
        return 1.0 - error if given == truth else error / (len(self.labels) - 1)

    def items(self, rng: random.Random, n: int) -> Iterator[tuple[str, dict[str, str]]]:
        """``n`` items: their true label and every reviewer's answer, in a random order."""
        for _ in range(n):
            truth = rng.choices(self.labels, weights=self.prior)[0]
            answers = {}
            for i in rng.sample(range(len(self.error_rates)), len(self.error_rates)):
                wrong = rng.random() < self.error_rates[i]
                answers[self.names[i]] = (
                    rng.choice([label for label in self.labels if label != truth]) if wrong else truth
                )
            yield truth, answers

    def _outcomes(self) -> Iterator[tuple[float, str, tuple[str, ...]]]:
        """Every (probability, true label, answers in reviewer order)."""
        for truth, prior in zip(self.labels, self.prior, strict=True):
            for answers in itertools.product(self.labels, repeat=len(self.error_rates)):
                probability = prior
                for i, given in enumerate(answers):
                    probability *= self.answer_probability(i, truth, given)
                yield probability, truth, answers

    def expectation(self, value: Callable[[str, tuple[str, ...]], float]) -> float:
        return sum(probability * value(truth, answers) for probability, truth, answers in self._outcomes())

    def log_posterior(self, answers: Sequence[str]) -> dict[str, float]:
        """Unnormalized log posterior of each true label given every reviewer's answer, with the true error rates."""
        return {
            label: math.log(prior)
            + sum(math.log(self.answer_probability(i, label, given)) for i, given in enumerate(answers))
            for label, prior in zip(self.labels, self.prior, strict=True)
        }

    def bayes_label(self, answers: Sequence[str]) -> str:
        """The most probable true label given every reviewer's answer, with the true error rates."""
        log_posterior = self.log_posterior(answers)
        return max(self.labels, key=log_posterior.__getitem__)

    def bayes_margin(self, answers: Sequence[str]) -> float:
        """How far (in log odds) the Bayes rule's label is ahead of the runner-up."""
        best, second = sorted(self.log_posterior(answers).values(), reverse=True)[:2]
        return best - second

    def bayes_accuracy(self) -> float:
        return self.expectation(lambda truth, answers: float(self.bayes_label(answers) == truth))

    def majority_accuracy(self) -> float:
        """Majority vote with ties to the label answered first, answers in a uniformly random order.

        In a random order, the first answer among the tied labels is label ``l`` with
        probability ``votes(l) / votes(all tied labels)``.
        """

        def right(truth: str, answers: tuple[str, ...]) -> float:
            votes = {label: answers.count(label) for label in set(answers)}
            top = max(votes.values())
            tied = [label for label, count in votes.items() if count == top]
            return votes[truth] / sum(votes[label] for label in tied) if truth in tied else 0.0

        return self.expectation(right)

    def expected_kappa(self, first: int, second: int) -> tuple[float, float]:
        """Cohen's kappa of reviewers ``first`` and ``second`` as items grow, and ``p_o``.

        ``p_o = sum_k pi_k sum_l theta_1[k][l] theta_2[k][l]`` (they give the same label),
        ``p_e = sum_l m_1(l) m_2(l)`` with ``m_i(l) = sum_k pi_k theta_i[k][l]`` their label frequencies.
        """
        p_o = sum(
            prior
            * sum(
                self.answer_probability(first, truth, label) * self.answer_probability(second, truth, label)
                for label in self.labels
            )
            for truth, prior in zip(self.labels, self.prior, strict=True)
        )

        def frequency(i: int, label: str) -> float:
            return sum(
                prior * self.answer_probability(i, truth, label)
                for truth, prior in zip(self.labels, self.prior, strict=True)
            )

        p_e = sum(frequency(first, label) * frequency(second, label) for label in self.labels)
        return (p_o - p_e) / (1.0 - p_e), p_o

    def kappa_standard_error(self, first: int, second: int, n: int) -> float:
        """Cohen's (1960) large-sample standard error ``sqrt(p_o (1 - p_o) / n) / (1 - p_e)``."""
        kappa, p_o = self.expected_kappa(first, second)
        p_e = (p_o - kappa) / (1.0 - kappa)
        return math.sqrt(p_o * (1.0 - p_o) / n) / (1.0 - p_e)

    def expected_alpha(self, n: int) -> tuple[float, float]:
        """Krippendorff's alpha (nominal, every reviewer answers every item) as items grow, and its standard error.

        With ``m`` answers an item, alpha = ``1 - D_o / D_e``: ``D_o`` is the mean over items of
        ``d_u``, the share of ordered pairs of its answers that differ, and ``D_e = 1 - sum_l m(l)**2``
        with ``m`` the pooled label frequencies. The error is the delta method's on the mean of
        ``d_u`` (``D_e`` rests on all answers and varies far less).
        """
        m = len(self.error_rates)

        def disagreement(_truth: str, answers: tuple[str, ...]) -> float:
            return sum(a != b for a, b in itertools.permutations(answers, 2)) / (m * (m - 1))

        mean = self.expectation(disagreement)
        variance = self.expectation(lambda truth, answers: disagreement(truth, answers) ** 2) - mean**2
        pooled = {
            label: self.expectation(lambda _t, answers, label=label: answers.count(label) / m) for label in self.labels
        }
        expected_disagreement = 1.0 - sum(share**2 for share in pooled.values())
        return 1.0 - mean / expected_disagreement, math.sqrt(variance / n) / expected_disagreement


def batch_dawid_skene(
    items: Sequence[dict[str, str]],
    labels: Sequence[str],
    prior_accuracy: float,
    prior_strength: float,
    iterations: int = 200,
) -> dict[str, float]:
    """Each reviewer's accuracy by the original, batch Dawid–Skene EM over all items (an independent check).

    Starts from the majority vote's label shares, as Dawid and Skene do, and uses the same
    Dirichlet priors as :class:`~labelstream.core.consensus.DawidSkeneConsensus` (MAP estimate).
    Written with numpy arrays, apart from the class under test.
    """
    import numpy as np

    reviewers = sorted({name for item in items for name in item})
    k = len(labels)
    answer = np.full((len(items), len(reviewers)), -1)
    for u, item in enumerate(items):
        for name, label in item.items():
            answer[u, reviewers.index(name)] = labels.index(label)
    posterior = np.zeros((len(items), k))
    for r in range(len(reviewers)):
        given = answer[:, r] >= 0
        posterior[given, answer[given, r]] += 1.0
    posterior /= posterior.sum(axis=1, keepdims=True)
    pseudo = np.full((k, k), prior_strength * (1 - prior_accuracy) / (k - 1))
    np.fill_diagonal(pseudo, prior_strength * prior_accuracy)
    # one_hot[r, u, j] = 1 if reviewer r answered item u with label j (a row of zeros: no answer), so that
    # both EM steps are matrix products: counts[r][true, given] and each item's log-likelihood
    one_hot = np.stack([(answer[:, r, None] == np.arange(k)).astype(float) for r in range(len(reviewers))])
    for _ in range(iterations):
        class_prior = (posterior.sum(axis=0) + 1.0) / (len(items) + k)
        confusion = np.empty((len(reviewers), k, k))
        for r in range(len(reviewers)):
            counts = posterior.T @ one_hot[r] + pseudo
            confusion[r] = counts / counts.sum(axis=1, keepdims=True)
        log_posterior = np.tile(np.log(class_prior), (len(items), 1))
        for r in range(len(reviewers)):
            log_posterior += one_hot[r] @ np.log(confusion[r]).T
        posterior = np.exp(log_posterior - log_posterior.max(axis=1, keepdims=True))
        posterior /= posterior.sum(axis=1, keepdims=True)
    return {name: float(class_prior @ np.diag(confusion[r])) for r, name in enumerate(reviewers)}
