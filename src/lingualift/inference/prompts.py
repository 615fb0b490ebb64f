"""Translation prompt templates, chosen by name, and the extraction of the answer.

Extraction takes only the generated continuation, so a translation containing a colon is
never cut there (LLaMAX's evaluation splits the whole output on ':' and keeps piece 1).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import jinja2

from lingualift.core.io import InputError
from lingualift.lang.languages import english_name

# Stanford Alpaca's prompt, which LLaMAX trains and evaluates with. Training (`train sft
# --set template=llamax-alpaca`), task evaluation and translation evaluation all render it
# here, so the prompts match byte for byte.
ALPACA_HEADER = ("Below is an instruction that describes a task, paired with an input that provides "
                 "further context. Write a response that appropriately completes the request.\n")
ALPACA_HEADER_NO_INPUT = ("Below is an instruction that describes a task. Write a response that "
                          "appropriately completes the request.\n")
LLAMAX_INSTRUCTION = "Translate the following sentences from {src} to {tgt}."


def alpaca_prompt(instruction: str, given: str = "") -> str:
    """The Alpaca prompt up to `### Response:`, with an `### Input:` block when there is input."""
    header = ALPACA_HEADER if given else ALPACA_HEADER_NO_INPUT
    return f"{header}### Instruction:\n{instruction}\n" + (f"### Input:\n{given}\n" if given else "") + "### Response:"


LLAMAX_ALPACA = alpaca_prompt(LLAMAX_INSTRUCTION, "{text}")

# TowerInstruct's documented user turn, in ChatML.
TOWER_CHATML = (
    "<|im_start|>user\nTranslate the following text from {src} into {tgt}.\n"
    "{src}: {text}\n{tgt}:<|im_end|>\n<|im_start|>assistant\n"
)

CHAT_USER = "Translate the following text from {src} into {tgt}. Reply with the translation only.\n\n{text}"


@dataclass(frozen=True)
class Example:
    src: str
    tgt: str


@dataclass
class Template:
    """How to ask for one translation and how to read the answer."""

    name: str
    render: Callable[[str, str, str, list[Example]], str]  # (text, src code, tgt code, shots)
    stop: tuple[str, ...] = ("\n",)
    needs_examples: bool = False
    source: str = field(default="")  # the template text, recorded in result files

    def extract(self, output: str, tgt: str) -> str:
        """The translation in a continuation already cut at a stop string by the generator:
        stripped, without a leading `Target-language:` label some models echo."""
        text = output.strip()
        label = f"{english_name(tgt)}:"
        return text[len(label):].strip() if text.startswith(label) else text


def _fewshot_render(text: str, src: str, tgt: str, shots: list[Example]) -> str:
    s, t = english_name(src), english_name(tgt)
    blocks = [f"{s}: {ex.src}\n{t}: {ex.tgt}" for ex in shots]
    return "\n\n".join([*blocks, f"{s}: {text}\n{t}:"])


def _chat_render(tokenizer) -> Callable:
    if not getattr(tokenizer, "chat_template", None):
        raise InputError("template 'chat' needs a tokenizer with a chat template; "
                         "this model has none (use llamax-alpaca or fewshot)")

    def render(text, src, tgt, shots):
        user = CHAT_USER.format(src=english_name(src), tgt=english_name(tgt), text=text)
        return tokenizer.apply_chat_template(
            [{"role": "user", "content": user}], tokenize=False, add_generation_prompt=True)
    return render


def _jinja_template(path: Path) -> Template:
    try:
        source = path.read_text("utf-8")
        compiled = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True).from_string(source)
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"cannot read template ({err})", path) from None
    except jinja2.TemplateSyntaxError as err:
        raise InputError(f"Jinja syntax error: {err.message}", path, err.lineno) from None

    def render(text, src, tgt, shots):
        try:
            return compiled.render(text=text, src_code=src, tgt_code=tgt, src_lang=english_name(src),
                                   tgt_lang=english_name(tgt), examples=shots)
        except jinja2.UndefinedError as err:
            raise InputError(f"template uses an unknown variable ({err.message}); available: "
                             "text, src_code, tgt_code, src_lang, tgt_lang, examples", path) from None
    return Template(path.name, render, needs_examples="examples" in source, source=source)


def _format(fmt: str) -> Callable:
    return lambda text, src, tgt, shots: fmt.format(src=english_name(src), tgt=english_name(tgt), text=text)


TEMPLATES = ("llamax-alpaca", "tower-chatml", "chat", "fewshot")


def get_template(name: str, tokenizer=None) -> Template:
    """A template by name, or a Jinja file (variables: text, src_lang, tgt_lang, src_code,
    tgt_code, examples with .src and .tgt)."""
    if name == "llamax-alpaca":
        return Template(name, _format(LLAMAX_ALPACA), source=LLAMAX_ALPACA)
    if name == "tower-chatml":
        return Template(name, _format(TOWER_CHATML), stop=("\n", "<|im_end|>"), source=TOWER_CHATML)
    if name == "chat":
        return Template(name, _chat_render(tokenizer), stop=("\n",), source=CHAT_USER)
    if name == "fewshot":
        return Template(name, _fewshot_render, needs_examples=True, source="{src}: {x}\\n{tgt}: {y}\\n\\n...")
    path = Path(name)
    if path.suffix in (".j2", ".jinja", ".jinja2", ".txt") or path.exists():
        return _jinja_template(path)
    raise InputError(f"unknown template {name!r}; choose one of {', '.join(TEMPLATES)} or a .jinja file")


def _char_ngrams(text: str, n: int = 3) -> set[str]:
    return {text[i:i + n] for i in range(max(len(text) - n + 1, 1))}


def select_examples(text: str, pool: list[Example], k: int, method: str = "random",
                    seed: int = 0) -> list[Example]:
    """k few-shot examples: at random (seeded by the input, so reproducible per sentence)
    or the k most similar sources by character-trigram Jaccard overlap (the survey's
    retrieval-augmented example selection; character n-grams work for every script)."""
    candidates = [ex for ex in pool if ex.src != text]
    if k <= 0 or not candidates:
        return []
    if method == "random":
        return random.Random(f"{seed}:{text}").sample(candidates, min(k, len(candidates)))
    if method == "similar":
        query = _char_ngrams(text)

        def overlap(ex: Example) -> float:
            grams = _char_ngrams(ex.src)
            return len(query & grams) / (len(query | grams) or 1)
        return sorted(candidates, key=overlap, reverse=True)[:k]
    raise InputError(f"unknown example selection {method!r}; choose random or similar")


def encode_prompts(tokenizer, prompts: list[str]) -> list[list[int]]:
    """Token ids of each prompt, with the tokenizer's BOS unless the prompt already has it
    (chat templates such as Gemma's write it themselves)."""
    bos = tokenizer.bos_token
    return [tokenizer(p, add_special_tokens=not (bos and p.startswith(bos)))["input_ids"] for p in prompts]
