"""Every stage a config can name with ``use:``, in one place.

Stage modules keep their heavy imports (torch, fasttext, vllm) inside functions, so importing
them all here is cheap.
"""

from __future__ import annotations

from datamill.filters.c4_quality import C4QualityFilter
from datamill.filters.fineweb_quality import FineWebQualityFilter
from datamill.filters.gopher_quality import GopherQualityFilter
from datamill.filters.gopher_repetition import GopherRepetitionFilter
from datamill.filters.language_filter import LanguageFilter
from datamill.filters.length_filter import LengthFilter
from datamill.filters.pii import PIIFilter
from datamill.filters.quality_filter import QualityFilter
from datamill.filters.toxicity_filter import ToxicityFilter
from datamill.filters.url_filter import URLFilter
from datamill.stage import Stage
from datamill.stages.clean_text import CleanText
from datamill.stages.decontaminate import Decontaminate
from datamill.stages.exact_dedup import ExactDedup
from datamill.stages.llm_annotate import LLMAnnotate
from datamill.stages.metadata_prefix import MetadataPrefix
from datamill.stages.minhash.minhash_dedup import MinHashDedup
from datamill.stages.mix import Mix
from datamill.stages.paragraph_dedup import ParagraphDedup
from datamill.stages.random_sample import RandomSample
from datamill.stages.semantic.d4 import D4Prune
from datamill.stages.semantic.embed import EmbeddingAnnotator
from datamill.stages.semantic.semdedup import SemDeDup
from datamill.stages.tokens.token_shards import TokenShards
from datamill.stages.train_classifier import TrainClassifier
from datamill.synth.entigraph import EntiGraphSynth

STAGES: dict[str, type[Stage]] = {cls.use: cls for cls in (
    # cleaning and exact/near/semantic deduplication
    CleanText, ExactDedup, MinHashDedup, EmbeddingAnnotator, SemDeDup, D4Prune,
    # filters: heuristic rule sets, classifiers, language, length
    GopherQualityFilter, GopherRepetitionFilter, C4QualityFilter, FineWebQualityFilter, QualityFilter,
    ToxicityFilter, LanguageFilter, LengthFilter,
    # what a released dataset needs: decontamination, PII, URL lists, boilerplate
    Decontaminate, PIIFilter, URLFilter, ParagraphDedup,
    # synthesis, conditioning, mixing, tokenization
    EntiGraphSynth, MetadataPrefix, Mix, TokenShards,
    # LLM annotation and classifiers trained inside a pipeline (FineWeb-Edu's recipe)
    LLMAnnotate, TrainClassifier,
    # control arms of selection experiments
    RandomSample,
)}
