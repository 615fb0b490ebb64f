"""The prepared GPU script's CPU-side parts: its commands parse and its 1B model config builds."""

import os
import subprocess
import sys

from conftest import ROOT


def test_gpu_script_checks_out_without_a_gpu():
    proc = subprocess.run(["bash", "bench/gpu.sh", "--check"], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "PYTHON": sys.executable})
    assert proc.returncode == 0, proc.stderr
    assert "0.97B parameters" in proc.stdout and "CPU-side parts check out" in proc.stdout


def _llamax_output(source: str, answer: str) -> str:
    """What LLaMAX's loop decodes for one line: its Alpaca prompt, then the model's text."""
    from lingualift.inference.prompts import get_template

    return get_template("llamax-alpaca").render(source, "eng_Latn", "deu_Latn", []) + answer


def test_llamax_scoring_keeps_what_their_scripts_score():
    """bench/generation.py scores the LLaMAX-style loop as LLaMAX's get_translation_from_hyp
    does: the answer up to the next "###" header or its first colon, lines joined with nothing."""
    sys.path.insert(0, str(ROOT / "bench"))
    from generation import llamax_scored, llamax_whole

    src = "The cat sat on the mat."
    repeated = _llamax_output(src, "\nDie Katze saß auf der Matte.\n\n### Output:\nDie Katze saß.")
    assert llamax_scored(repeated, src) == "Die Katze saß auf der Matte."
    assert llamax_whole(repeated) == "Die Katze saß auf der Matte.  ### Output: Die Katze saß."
    assert llamax_scored(_llamax_output(src, "\nEr sagte: Hallo"), src) == "Er sagte"
    assert llamax_scored(_llamax_output(src, "\nZeile eins\nZeile zwei"), src) == "Zeile einsZeile zwei"
    assert llamax_scored(_llamax_output(src, "\n"), src) == ""
    # a source with a colon: LLaMAX matches the Input section by the text before it
    colon = "Note: the cat sat."
    assert llamax_scored(_llamax_output(colon, " Hinweis"), colon) == "Hinweis"
