"""Behaviour segments: k-means on how customers use and pay for the service, named in words.

Fitted with the churn model on its training rows and saved in the same artifact, so a
segment means the same thing every week a model is champion. Segment numbers are ordered by
the centre's tenure (1 = the newest customers); names are made from the centre, relative to
the training rows ("New, high spend, few services, month-to-month").
"""

from __future__ import annotations

import numpy as np
import pandas as pd

BEHAVIOUR = [
    "tenure_months", "monthly_charges", "services_count", "avg_monthly_gb_download",
    "avg_monthly_long_distance_charges", "number_of_referrals",
]
CONTRACT_YEARS = {"Month-to-month": 0.0, "One year": 1.0, "Two year": 2.0}


def _matrix(frame: pd.DataFrame) -> np.ndarray:
    values = frame[BEHAVIOUR].astype("Float64").astype(float).to_numpy()
    contract = frame["contract"].map(CONTRACT_YEARS).astype(float).to_numpy()
    return np.column_stack([values, contract])


class Segmenter:
    def __init__(self, k: int = 5, seed: int = 0) -> None:
        self.k = k
        self.seed = seed

    def fit(self, frame: pd.DataFrame) -> Segmenter:
        from sklearn.cluster import KMeans

        matrix = _matrix(frame)
        self.medians = np.nanmedian(matrix, axis=0)
        matrix = np.where(np.isnan(matrix), self.medians, matrix)
        self.mean, self.scale = matrix.mean(axis=0), matrix.std(axis=0) + 1e-9
        kmeans = KMeans(n_clusters=self.k, n_init=10, random_state=self.seed).fit((matrix - self.mean) / self.scale)
        centres = kmeans.cluster_centers_ * self.scale + self.mean
        order = np.argsort(centres[:, 0], kind="stable")  # by tenure: segment 1 is the newest
        self.kmeans = kmeans
        self.number = np.empty(self.k, dtype=int)
        self.number[order] = np.arange(1, self.k + 1)
        thirds = np.nanpercentile(matrix, [33.3, 66.7], axis=0)
        names = {}
        for cluster in range(self.k):
            names[int(self.number[cluster])] = _name(centres[cluster], thirds)
        # Two centres can read alike; their numbers tell them apart.
        counts = pd.Series(list(names.values())).value_counts()
        self.names = {n: (f"{text} ({n})" if counts[text] > 1 else text) for n, text in names.items()}
        self.sizes = {int(self.number[c]): int((kmeans.labels_ == c).sum()) for c in range(self.k)}
        return self

    def predict(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(segment number, segment name) per row."""
        matrix = _matrix(frame)
        matrix = np.where(np.isnan(matrix), self.medians, matrix)
        clusters = self.kmeans.predict((matrix - self.mean) / self.scale)
        numbers = self.number[clusters]
        names = np.asarray([self.names[n] for n in range(1, self.k + 1)], dtype=object)[numbers - 1]
        return numbers, names


def _name(centre: np.ndarray, thirds: np.ndarray) -> str:
    tenure, charge, services, data, _, referrals, contract = centre

    def level(value: float, column: int, words: tuple[str, str, str]) -> str:
        low, high = thirds[:, column]
        return words[0] if value < low else words[2] if value > high else words[1]

    parts = [
        "New" if tenure < 12 else "Established" if tenure < 48 else "Long-standing",
        level(charge, 1, ("low spend", "mid spend", "high spend")),
        level(services, 2, ("few services", "some services", "many services")),
    ]
    if data > thirds[1, 3]:
        parts.append("heavy data")
    if referrals > max(thirds[1, 5], 1):
        parts.append("refers friends")
    parts.append("month-to-month" if contract < 0.5 else "one-year contract" if contract < 1.5 else "two-year contract")
    return ", ".join(parts)
