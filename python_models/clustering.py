"""Clusters of users by behaviour: k-means (k by silhouette) and hierarchical Ward, compared.

- Features (per user, from the session log plus lifetime hours) are standardised (z-scores), so
  no feature dominates by its unit. Users without sessions have no behaviour to cluster and are
  left out.
- k-means (k-means++, 10 starts, fixed seed) for k = 2..8; the silhouette of each k is kept and
  the k with the highest silhouette is chosen. Silhouettes are computed on a fixed random
  sample of at most SILHOUETTE_SAMPLE users (the exact score is O(n²)).
- Ward's agglomerative clustering with the same k, on a fixed random sample of at most
  WARD_SAMPLE users (it needs the O(n²) distance matrix); users outside the sample are given the
  Ward cluster with the nearest centroid. Agreement between the two is the adjusted Rand index
  on the sample only, with a percentile bootstrap CI over the sampled users (labels held fixed).
- How real is the structure? A null reference: the silhouette at the chosen k of the same users
  with every feature shuffled independently (NULL_SHUFFLES times; marginals kept, joint structure
  destroyed), and refit stability: k-means refitted on STABILITY_REFITS bootstrap resamples of the
  users, each refit's labels of all users compared with the full fit's (adjusted Rand index).
  The structure is called weak when the silhouette is below 0.5 (Kaufman & Rousseeuw: < 0.25 no
  substantial structure, 0.25–0.5 weak), when it does not clearly exceed the shuffled data's, or
  when refits disagree (median ARI below 0.8). Every figure says the number of users it used.
- Cluster numbers are 0..k−1 by decreasing k-means size; Ward numbers are matched to the k-means
  ones by maximum overlap, so "cluster 1" means the same group in both where they agree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist
from sklearn.cluster import AgglomerativeClustering, KMeans
from sklearn.decomposition import PCA
from sklearn.metrics import adjusted_rand_score, silhouette_score
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from python_models.results import Result, insufficient

FEATURES = (
    "sessions",
    "watch_minutes",
    "mean_completion",
    "minutes_per_session",
    "share_4k",
    "share_mobile",
    "share_series",
    "lifetime_hours",
)
K_RANGE = range(2, 9)
SILHOUETTE_SAMPLE = 3000
WARD_SAMPLE = 2000
MIN_USERS = 10
NULL_SHUFFLES = 5
STABILITY_REFITS = 10
NULL_MARGIN = 0.05  # the silhouette must exceed the shuffled data's best by this much
STABLE_ARI = 0.8


@dataclass(frozen=True)
class Clustering:
    results: list[Result]
    assignments: pd.DataFrame  # user_id, kmeans_cluster, ward_cluster, in_ward_sample, pc1, pc2
    profiles: pd.DataFrame  # method, cluster, n_users, feature, mean, median
    silhouettes: dict[int, float]


def _relabel_by_size(labels: np.ndarray) -> np.ndarray:
    sizes = np.bincount(labels)
    order = np.argsort(-sizes, kind="stable")
    mapping = np.empty_like(order)
    mapping[order] = np.arange(order.shape[0])
    return mapping[labels]


def silhouette_by_k(x: np.ndarray, seed: int) -> tuple[dict[int, float], dict[int, np.ndarray]]:
    """k-means labels and silhouette for every k in K_RANGE."""
    scores, labels = {}, {}
    sample = min(x.shape[0], SILHOUETTE_SAMPLE)
    for k in K_RANGE:
        if k >= x.shape[0]:
            break
        km = KMeans(n_clusters=k, n_init=10, random_state=seed).fit(x)
        labels[k] = _relabel_by_size(km.labels_)
        scores[k] = float(silhouette_score(x, labels[k], sample_size=sample, random_state=seed))
    return scores, labels


def ward_labels(x: np.ndarray, k: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Ward labels for every row (sample fitted, the rest by nearest centroid) and the sample mask."""
    n = x.shape[0]
    in_sample = np.zeros(n, dtype=bool)
    in_sample[rng.choice(n, min(n, WARD_SAMPLE), replace=False)] = True
    fitted = AgglomerativeClustering(n_clusters=k, linkage="ward").fit_predict(x[in_sample])
    centroids = np.vstack([x[in_sample][fitted == c].mean(axis=0) for c in range(k)])
    # cdist: no users × clusters × features temporary (115 MB at scale 45).
    nearest = np.argmin(cdist(x, centroids, "sqeuclidean"), axis=1)
    labels = nearest.copy()
    labels[in_sample] = fitted
    return labels, in_sample


def ari_ci(
    a: np.ndarray, b: np.ndarray, rng: np.random.Generator, n_boot: int
) -> tuple[float, float]:
    """Percentile 95 % CI of the adjusted Rand index, resampling users (labels held fixed)."""
    n = a.shape[0]
    values = [
        adjusted_rand_score(a[idx], b[idx])
        for idx in (rng.integers(0, n, n) for _ in range(n_boot))
    ]
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high)


def null_silhouettes(x: np.ndarray, k: int, seed: int) -> list[float]:
    """Silhouettes at k of the features shuffled independently (no joint structure left)."""
    rng = np.random.default_rng(seed + 1)
    sample = min(x.shape[0], SILHOUETTE_SAMPLE)
    out = []
    for _ in range(NULL_SHUFFLES):
        shuffled = np.column_stack([rng.permutation(col) for col in x.T])
        labels = KMeans(n_clusters=k, n_init=3, random_state=seed).fit_predict(shuffled)
        out.append(float(silhouette_score(shuffled, labels, sample_size=sample, random_state=seed)))
    return out


def refit_stability(x: np.ndarray, k: int, labels: np.ndarray, seed: int) -> list[float]:
    """ARI between the full fit's labels and those of k-means refitted on bootstrap resamples."""
    rng = np.random.default_rng(seed + 2)
    out = []
    for _ in range(STABILITY_REFITS):
        idx = rng.integers(0, x.shape[0], x.shape[0])
        refit = KMeans(n_clusters=k, n_init=3, random_state=seed).fit(x[idx])
        out.append(float(adjusted_rand_score(labels, refit.predict(x))))
    return out


def structure_words(silhouette: float, null_best: float, stability: float) -> str:
    """How much structure the clusters show, in words (see the module docstring)."""
    reasons = []
    if silhouette < 0.25:
        reasons.append("silhouette below 0.25: no substantial structure")
    elif silhouette < 0.5:
        reasons.append("silhouette below 0.5")
    if silhouette < null_best + NULL_MARGIN:
        reasons.append("not clearly above shuffled data")
    if stability < STABLE_ARI:
        reasons.append("refits disagree")
    if not reasons:
        return "clear structure"
    return "weak structure (" + "; ".join(reasons) + ")"


def profiles(frame: pd.DataFrame, labels: np.ndarray, method: str) -> pd.DataFrame:
    """Per cluster: size, and mean and median of every feature and of each plan's share."""
    data = frame.assign(cluster=labels)
    for plan in sorted(data["plan"].dropna().unique()):
        data[f"plan_share_{plan}"] = (data["plan"] == plan).astype(float)
    columns = [
        *FEATURES,
        "age",
        "tenure_days",
        *[c for c in data.columns if c.startswith("plan_share_")],
    ]
    rows = []
    for cluster, part in data.groupby("cluster"):
        for feature in columns:
            rows.append(
                {
                    "method": method,
                    "cluster": int(cluster),
                    "n_users": int(part.shape[0]),
                    "feature": feature,
                    "mean": float(part[feature].mean()),
                    "median": float(part[feature].median()),
                }
            )
    return pd.DataFrame(rows)


def run(users: pd.DataFrame, seed: int, n_boot: int = 500) -> Clustering:
    """Cluster the users that have sessions (users is data.AnalysisData.users: one row per user)."""
    # One OpenMP thread: k-means' thread pool spins against other processes on a small machine.
    with threadpool_limits(limits=1):
        return _run(users, seed, n_boot)


def _run(users: pd.DataFrame, seed: int, n_boot: int) -> Clustering:
    rng = np.random.default_rng(seed)
    frame = users[users["sessions"] > 0].dropna(subset=list(FEATURES)).reset_index(drop=True)
    if frame.shape[0] < MIN_USERS:
        note = insufficient(
            "clustering",
            "kmeans_chosen_k",
            ", ".join(FEATURES),
            int(frame.shape[0]),
            f"{frame.shape[0]} users with sessions (at least {MIN_USERS} needed)",
        )
        return Clustering(
            [note],
            pd.DataFrame(
                columns=[
                    "user_id",
                    "kmeans_cluster",
                    "ward_cluster",
                    "in_ward_sample",
                    "pc1",
                    "pc2",
                ]
            ),
            pd.DataFrame(columns=["method", "cluster", "n_users", "feature", "mean", "median"]),
            {},
        )
    x = StandardScaler().fit_transform(frame[list(FEATURES)].to_numpy(dtype=float))
    scores, km_labels = silhouette_by_k(x, seed)
    k = max(scores, key=lambda kk: (scores[kk], -kk))
    kmeans = km_labels[k]
    ward, in_sample = ward_labels(x, k, rng)
    ward = _match_all(kmeans, ward, in_sample, k)
    ari = float(adjusted_rand_score(kmeans[in_sample], ward[in_sample]))
    low, high = ari_ci(kmeans[in_sample], ward[in_sample], rng, n_boot)
    ward_sil = float(silhouette_score(x[in_sample], ward[in_sample]))
    pca = PCA(n_components=2, random_state=seed).fit(x)
    coords = pca.transform(x)
    assignments = pd.DataFrame(
        {
            "user_id": frame["user_id"],
            "kmeans_cluster": kmeans,
            "ward_cluster": ward,
            "in_ward_sample": in_sample,
            "pc1": coords[:, 0],
            "pc2": coords[:, 1],
        }
    )
    results = [
        Result(
            section="clustering",
            name=f"kmeans_silhouette_k{kk}",
            variables=", ".join(FEATURES),
            statistic_name="silhouette",
            statistic=s,
            n=min(int(x.shape[0]), SILHOUETTE_SAMPLE),
            interpretation=f"k-means with k = {kk}: mean silhouette {s:.3f} on a sample of "
            f"{min(int(x.shape[0]), SILHOUETTE_SAMPLE):,} of {x.shape[0]:,} users.",
            details={
                "k": kk,
                "chosen": kk == k,
                "silhouette_sample": min(x.shape[0], SILHOUETTE_SAMPLE),
            },
        )
        for kk, s in scores.items()
    ]
    sizes = np.bincount(kmeans, minlength=k).tolist()
    nulls = null_silhouettes(x, k, seed)
    stability = refit_stability(x, k, kmeans, seed)
    stable = float(np.median(stability))
    structure = structure_words(scores[k], max(nulls), stable)
    sil_n = min(x.shape[0], SILHOUETTE_SAMPLE)
    results.append(
        Result(
            section="clustering",
            name="kmeans_chosen_k",
            variables=", ".join(FEATURES),
            statistic_name="k",
            statistic=float(k),
            effect_name="silhouette",
            effect=scores[k],
            n=sil_n,  # the silhouette's own sample; users clustered in details
            interpretation=(
                f"k-means splits {x.shape[0]:,} users into {k} groups (sizes {sizes}); the best "
                f"silhouette {scores[k]:.3f} on a sample of {sil_n:,} users against "
                f"{max(nulls):.3f} at most for the same users with shuffled features; refits on "
                f"resampled users agree with median ARI {stable:.2f}: {structure}."
            ),
            details={
                "structure": structure,
                "users_clustered": int(x.shape[0]),
                "silhouette_n": sil_n,
                "null_silhouettes": nulls,
                "null_silhouette_max": max(nulls),
                "null_silhouette_mean": float(np.mean(nulls)),
                "null": f"each feature shuffled independently, {NULL_SHUFFLES} times",
                "refit_ari": stability,
                "refit_ari_median": stable,
                "refit_ari_range": [min(stability), max(stability)],
                "refits": f"k-means refitted on {STABILITY_REFITS} bootstrap resamples of the users",
                "sizes": sizes,
                "silhouettes": scores,
                "standardised": True,
                "n_init": 10,
                "seed": seed,
                "users_without_sessions_left_out": int(users.shape[0] - frame.shape[0]),
            },
        )
    )
    results.append(
        Result(
            section="clustering",
            name="kmeans_vs_ward_ari",
            variables="kmeans_cluster ~ ward_cluster",
            statistic_name="adjusted_rand_index",
            statistic=ari,
            effect_name="adjusted_rand_index",
            effect=ari,
            ci_low=low,
            ci_high=high,
            n=int(in_sample.sum()),
            interpretation=(
                f"k-means and Ward ({k} clusters each) agree with adjusted Rand index {ari:.2f} "
                f"(95% CI [{low:.2f}, {high:.2f}]; 1 = identical, 0 = chance) on {int(in_sample.sum())} sampled users."
            ),
            details={
                "ward_sample": int(in_sample.sum()),
                "ward_silhouette": ward_sil,
                "ward_sizes": np.bincount(ward, minlength=k).tolist(),
                "n_boot": n_boot,
                "pca_explained_variance": pca.explained_variance_ratio_.tolist(),
            },
        )
    )
    prof = pd.concat(
        [profiles(frame, kmeans, "kmeans"), profiles(frame, ward, "ward")], ignore_index=True
    )
    return Clustering(results, assignments, prof, scores)


def _match_all(kmeans: np.ndarray, ward: np.ndarray, in_sample: np.ndarray, k: int) -> np.ndarray:
    """Ward labels renumbered to match k-means, the matching learnt on the sample."""
    overlap = np.zeros((k, k), dtype=int)
    np.add.at(overlap, (ward[in_sample], kmeans[in_sample]), 1)
    rows, cols = linear_sum_assignment(-overlap)
    mapping = np.empty(k, dtype=int)
    mapping[rows] = cols
    return mapping[ward]
