"""The FAISS index of a snapshot: exact below a size threshold, approximate (IVF) above.

Every type holds the snapshot's normalized vectors under ids 0..n-1 (FAISS id = row = chunk
id) with inner-product metric, so `rag check` can reconstruct and compare them with
`vectors.npy`. The type is recorded in the manifest (`index_type`) and in the file's own
four-byte tag, which `read_index` checks against each other.

Why IVF for `auto`: on clustered MiniLM-like vectors (`rag bench --scale`) IVF at nprobe 32
kept recall@10 at 0.996 (100k) and 1.000 (1M) in 0.2-0.8 ms a query, built in 6 s / 62 s,
while HNSW (M 32, efConstruction 80, efSearch 128) reached 0.981 and 0.818 and took twice
as long to build. HNSW stays available (`RAG_INDEX_TYPE=hnsw`), and so does IVF with 8-bit
scalar-quantized lists (`ivf-sq8`): at 1M vectors 164-251 MB instead of 1.3 GB, 0.4 ms a query,
recall@10 0.976-0.979 (not the default: IVF-Flat's recall is 1.000 at the same speed).
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import faiss
import numpy as np

from rag.errors import CorruptIndex

if TYPE_CHECKING:
    from rag.settings import Settings

IndexType = Literal["flat", "hnsw", "ivf", "ivf-sq8"]
IndexChoice = Literal["auto", "flat", "hnsw", "ivf", "ivf-sq8"]
INDEX_TYPES: tuple[IndexType, ...] = ("flat", "hnsw", "ivf", "ivf-sq8")
IVF_TYPES: tuple[IndexType, ...] = ("ivf", "ivf-sq8")
# The file tag FAISS writes first for each type this store builds; anything else is not ours.
FOURCC: dict[bytes, IndexType] = {
    b"IxFI": "flat",
    b"IHNf": "hnsw",
    b"IwFl": "ivf",
    b"IwSq": "ivf-sq8",
}
MANIFEST_NAMES: dict[IndexType, str] = {
    "flat": "flat-ip",
    "hnsw": "hnsw-ip",
    "ivf": "ivf-flat-ip",
    "ivf-sq8": "ivf-sq8-ip",
}
# What reconstructing a stored vector may differ by from vectors.npy: 8-bit codes keep each
# dimension to 1/255 of its trained range (about 1e-3 on unit MiniLM vectors); others exact.
RECONSTRUCTION_TOLERANCE: dict[IndexType, float] = {"ivf-sq8": 0.02}
MIN_POINTS_PER_CENTROID = 39  # FAISS warns below this when training k-means
TRAIN_POINTS_PER_CENTROID = 64  # training sample size per list: enough, and bounded
# A segment shares the index's coarse lists while it would get at most this many times as many
# lists of its own; past that the lists are too coarse for it and it trains its own.
SHARE_GROWTH = 2


@dataclass(frozen=True)
class IndexParams:
    """How to build and search the vector index (from the settings)."""

    choice: IndexChoice = "auto"
    auto_threshold: int = 20_000  # chunks; exact search below, IVF from here on
    # the same for a segment added or merged into an index: exact search costs per segment,
    # so ten small exact segments cost more than one IVF index over all of them
    segment_threshold: int = 2_000
    hnsw_m: int = 32
    hnsw_ef_construction: int = 80
    hnsw_ef_search: int = 128
    ivf_nlist: int = 0  # 0: about 4 * sqrt(n)
    ivf_nprobe: int = 32
    mmap: bool = True

    @classmethod
    def from_settings(cls, settings: Settings) -> IndexParams:
        return cls(
            choice=settings.index_type,
            auto_threshold=settings.index_auto_threshold,
            segment_threshold=settings.index_segment_threshold,
            hnsw_m=settings.hnsw_m,
            hnsw_ef_construction=settings.hnsw_ef_construction,
            hnsw_ef_search=settings.hnsw_ef_search,
            ivf_nlist=settings.ivf_nlist,
            ivf_nprobe=settings.ivf_nprobe,
            mmap=settings.index_mmap,
        )


def choose_index_type(n: int, params: IndexParams) -> IndexType:
    """The index type for n vectors: the setting, or by size when it is `auto`.

    >>> choose_index_type(10, IndexParams()), choose_index_type(10**6, IndexParams())
    ('flat', 'ivf')
    >>> choose_index_type(10**6, IndexParams(choice="hnsw"))
    'hnsw'
    """
    if params.choice != "auto":
        return params.choice
    return "flat" if n < params.auto_threshold else "ivf"


def for_segments(params: IndexParams) -> IndexParams:
    """The parameters for a segment added or merged into an index (IVF from fewer chunks).

    >>> choose_index_type(5_000, for_segments(IndexParams()))
    'ivf'
    """
    threshold = min(params.auto_threshold, params.segment_threshold)
    return dataclasses.replace(params, auto_threshold=threshold)


def ivf_lists(n: int, requested: int = 0) -> int:
    """Inverted lists for n vectors: about 4 * sqrt(n), with enough points to train each.

    >>> ivf_lists(1_000_000), ivf_lists(100), ivf_lists(100_000, requested=256)
    (4000, 2, 256)
    """
    wanted = requested or round(4 * math.sqrt(max(n, 1)))
    return max(1, min(wanted, n // MIN_POINTS_PER_CENTROID))


@dataclass(frozen=True)
class CoarseLists:
    """The trained coarse quantizer (list centroids) of an index's largest IVF-Flat segment.

    Segments built on the same centroids are searched with one assignment of the question to
    its nearest lists (`search_segments`), so ten segments cost about what one does: each with
    lists of its own, the small ones scanned a far larger share of their rows (at 100k chunks
    in ten segments, 12k vectors a question instead of 3.8k)."""

    centroids: np.ndarray  # float32 [lists, dim]
    trained_on: int  # vectors the centroids were trained on

    @classmethod
    def of(cls, index: faiss.Index, trained_on: int) -> CoarseLists | None:
        typed: Any = faiss.downcast_index(index)
        if not isinstance(typed, faiss.IndexIVFFlat) or not typed.is_trained:
            return None
        return cls(typed.quantizer.reconstruct_n(0, typed.nlist), trained_on)

    def fits(self, n: int, params: IndexParams) -> bool:
        """Whether a segment of n vectors should share these lists rather than train its own."""
        if params.choice not in ("auto", "ivf"):
            return False
        return ivf_lists(n, params.ivf_nlist) <= SHARE_GROWTH * len(self.centroids)


def build_index(
    vectors: np.ndarray,
    dim: int,
    params: IndexParams,
    kind: IndexType | None = None,
    shared: CoarseLists | None = None,
) -> faiss.Index:
    """A FAISS index over normalized float32 vectors; ids are row positions. `shared`: an
    IVF-Flat index on those lists (nothing to train), whatever the number of vectors."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    kind = "ivf" if shared is not None else kind or choose_index_type(len(vectors), params)
    index: faiss.Index
    if shared is not None:
        quantizer = faiss.IndexFlatIP(dim)
        quantizer.add(np.ascontiguousarray(shared.centroids, dtype=np.float32))
        index = faiss.IndexIVFFlat(quantizer, dim, quantizer.ntotal, faiss.METRIC_INNER_PRODUCT)
        direct_map: Any = faiss.DirectMap  # type: ignore[attr-defined]
        index.set_direct_map_type(direct_map.Array)
    elif kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, params.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = params.hnsw_ef_construction
    elif kind in IVF_TYPES:
        nlist = ivf_lists(len(vectors), params.ivf_nlist)
        quantizer = faiss.IndexFlatIP(dim)
        if kind == "ivf":
            index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
        else:  # 8 bits a dimension: recall@10 0.976-0.979 at 1M here
            eight_bits: Any = faiss.ScalarQuantizer.QT_8bit  # type: ignore[attr-defined]
            index = faiss.IndexIVFScalarQuantizer(
                quantizer, dim, nlist, eight_bits, faiss.METRIC_INNER_PRODUCT
            )
        index.cp.seed = 1234  # the same vectors give the same lists
        sample = len(vectors)
        if sample > nlist * TRAIN_POINTS_PER_CENTROID:
            rows = np.random.default_rng(0).choice(
                len(vectors), nlist * TRAIN_POINTS_PER_CENTROID, replace=False
            )
            index.train(vectors[np.sort(rows)])
        elif sample:
            index.train(vectors)
        direct_map: Any = faiss.DirectMap  # type: ignore[attr-defined]
        index.set_direct_map_type(direct_map.Array)  # reconstruct(id), for `rag check`
    else:
        raise ValueError(f"unknown index type {kind!r}; choose one of {', '.join(INDEX_TYPES)}")
    if len(vectors):
        index.add(vectors)
    configure(index, params)
    return index


def extend_index(index: faiss.Index, vectors: np.ndarray) -> faiss.Index:
    """A copy of `index` with rows appended (ids continue from ntotal); the original is kept.

    The copy goes through FAISS' own serialization: `clone_index` of a memory-mapped index
    shares the read-only mapping, and adding to it aborts the process.
    """
    grown = faiss.deserialize_index(faiss.serialize_index(index))
    if len(vectors):
        grown.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return grown


def fits_trained_range(index: faiss.Index, vectors: np.ndarray) -> bool:
    """False when the 8-bit codes of `index` would clip some of `vectors`: each dimension is
    coded within the range seen in training (of residuals to the list centroid), so vectors
    from elsewhere in the space must rebuild the index rather than be appended to it."""
    typed: Any = faiss.downcast_index(index)
    if not isinstance(typed, faiss.IndexIVFScalarQuantizer) or not len(vectors):
        return True
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    trained = faiss.vector_to_array(typed.sq.trained)
    low, width = trained[: typed.d], trained[typed.d :]
    if typed.by_residual:
        _, lists = typed.quantizer.search(vectors, 1)
        vectors = vectors - typed.quantizer.reconstruct_batch(lists[:, 0])
    return bool(np.all((vectors >= low - 1e-6) & (vectors <= low + width + 1e-6)))


def coarse_key(index: faiss.Index) -> bytes | None:
    """Names an IVF index's coarse lists and probe count (equal keys: one assignment serves
    both); None for other index types (searched on their own)."""
    if not isinstance(index, faiss.IndexIVF):  # FAISS' reader hands back the concrete type
        return None
    centroids = index.quantizer.reconstruct_n(0, index.nlist)
    digest = hashlib.blake2b(np.ascontiguousarray(centroids).tobytes(), digest_size=16)
    digest.update(int(index.nprobe).to_bytes(8, "little"))
    return digest.digest()


def search_segments(
    indexes: Sequence[tuple[faiss.Index, bytes | None, int]], query: np.ndarray
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(scores, ids) of `query` ([1, dim]) in each (index, coarse key, k): each IVF index's
    own result, with the question assigned to lists once per coarse key."""
    assigned: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}
    out = []
    for index, key, k in indexes:
        if k <= 0:  # a segment of no rows
            out.append((np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)))
            continue
        if key is None:
            scores, ids = index.search(query, k)
        else:
            lists = assigned.get(key)
            if lists is None:
                lists = assigned[key] = index.quantizer.search(query, index.nprobe)
            scores, ids = index.search_preassigned(query, k, lists[1], lists[0])
        out.append((scores[0], ids[0]))
    return out


def configure(index: faiss.Index, params: IndexParams) -> None:
    """Apply the search-time parameters (they are settings, not part of the file's promise)."""
    kind = index_type_of(index)
    typed: Any = faiss.downcast_index(index)
    if kind == "hnsw":
        typed.hnsw.efSearch = params.hnsw_ef_search
    elif kind in IVF_TYPES:
        typed.nprobe = min(params.ivf_nprobe, typed.nlist)


def index_type_of(index: faiss.Index) -> IndexType:
    index = faiss.downcast_index(index)
    if isinstance(index, faiss.IndexFlatIP):
        return "flat"
    if isinstance(index, faiss.IndexHNSWFlat):
        return "hnsw"
    if isinstance(index, faiss.IndexIVFFlat):
        return "ivf"
    if isinstance(index, faiss.IndexIVFScalarQuantizer):
        return "ivf-sq8"
    raise ValueError(f"not an index type this store builds: {type(index).__name__}")


def manifest_name(kind: IndexType) -> str:
    return MANIFEST_NAMES[kind]


def kind_from_manifest(name: object) -> IndexType | None:
    """The index type a manifest's `index_type` names (None when it names none of ours)."""
    for kind, value in MANIFEST_NAMES.items():
        if name == value:
            return kind
    return None


def read_index(path: Path, expected: IndexType | None = None, mmap: bool = False) -> faiss.Index:
    """An index.faiss this store wrote, refusing any other file before FAISS parses it."""
    try:
        with path.open("rb") as fh:
            tag = fh.read(4)
    except OSError as exc:
        raise CorruptIndex(f"{path} cannot be read ({exc})") from None
    kind = FOURCC.get(tag)
    if kind is None:
        raise CorruptIndex(
            f"{path} is not a flat inner-product FAISS index, nor an HNSW or IVF one"
        )
    if expected is not None and kind != expected:
        raise CorruptIndex(f"{path} holds a {kind} index, but the manifest says {expected}")
    # Memory-map the stored vectors (flat storage, HNSW storage, IVF lists): pages are read on
    # use and shared with the OS page cache instead of copied into the process. Snapshots are
    # never changed in place, and a pruned file stays readable while it is mapped.
    flags = faiss.IO_FLAG_MMAP_IFC if mmap else 0
    try:
        index = faiss.read_index(str(path), flags)
    except RuntimeError as exc:
        reason = str(exc).strip().splitlines()[-1][:200] if str(exc).strip() else "unreadable"
        raise CorruptIndex(f"{path} is not a readable FAISS index ({reason})") from None
    if index.metric_type != faiss.METRIC_INNER_PRODUCT:
        raise CorruptIndex(f"{path} is not an inner-product index")
    return index
