from lingualift.inference.prompts import Example, get_template, select_examples
from lingualift.inference.stopping import cut_at_stop


def test_llamax_template_is_the_papers_string():
    text = get_template("llamax-alpaca").render("Hello.", "eng_Latn", "swh_Latn", [])
    assert text == (
        "Below is an instruction that describes a task, paired with an input that provides further "
        "context. Write a response that appropriately completes the request.\n### Instruction:\n"
        "Translate the following sentences from English to Swahili.\n### Input:\nHello.\n### Response:")


def test_tower_chatml_shape():
    text = get_template("tower-chatml").render("Hello.", "eng_Latn", "deu_Latn", [])
    assert text.startswith("<|im_start|>user\nTranslate the following text from English into German.\n")
    assert text.endswith("English: Hello.\nGerman:<|im_end|>\n<|im_start|>assistant\n")


def test_extraction_never_cuts_at_a_colon():
    template = get_template("llamax-alpaca")
    generated = "\nSaa: 10:30 asubuhi, alisema: \"ndiyo\".\n### Instruction: more"
    assert template.extract(cut_at_stop(generated, template.stop), "swh_Latn") == \
        "Saa: 10:30 asubuhi, alisema: \"ndiyo\"."


def test_extraction_drops_echoed_target_label_only_at_start():
    template = get_template("fewshot")
    assert template.extract(" Swahili: Jambo: dunia", "swh_Latn") == "Jambo: dunia"
    assert template.extract(" Jambo Swahili: dunia", "swh_Latn") == "Jambo Swahili: dunia"


def test_stop_strings_apply_after_the_answer_starts():
    assert cut_at_stop("\n\nJambo\nnext", ("\n",)) == "\n\nJambo"
    assert cut_at_stop(" Jambo<|im_end|>x", ("\n", "<|im_end|>")) == " Jambo"


def test_fewshot_prompt_and_selection():
    pool = [Example("The cat sleeps.", "Paka analala."), Example("Stock markets fell today.", "Masoko yalianguka."),
            Example("The cat eats fish.", "Paka anakula samaki."), Example("Rain is expected.", "Mvua inatarajiwa.")]
    similar = select_examples("The cat eats meat.", pool, 2, "similar")
    assert similar[0].src == "The cat eats fish." and similar[1].src == "The cat sleeps."
    first = select_examples("Hello there.", pool, 2, "random", seed=1)
    assert first == select_examples("Hello there.", pool, 2, "random", seed=1)
    prompt = get_template("fewshot").render("Hello.", "eng_Latn", "swh_Latn", similar)
    assert prompt == ("English: The cat eats fish.\nSwahili: Paka anakula samaki.\n\n"
                      "English: The cat sleeps.\nSwahili: Paka analala.\n\nEnglish: Hello.\nSwahili:")
    assert all(ex.src != "Rain is expected." for ex in select_examples("Rain is expected.", pool, 3, "random"))


def test_user_jinja_template(tmp_path):
    path = tmp_path / "mine.jinja"
    path.write_text("{% for ex in examples %}{{ ex.src }} => {{ ex.tgt }}\n{% endfor %}"
                    "[{{ src_lang }}->{{ tgt_code }}] {{ text }} =>")
    template = get_template(str(path))
    assert template.needs_examples
    out = template.render("Hi", "eng_Latn", "swh_Latn", [Example("a", "b")])
    assert out == "a => b\n[English->swh_Latn] Hi =>"


def test_training_and_evaluation_render_the_same_alpaca_prompt():
    """LLaMAX trains and evaluates with one prompt: `data sft` + `train sft --set template=llamax-alpaca`
    must give, byte for byte, the prompt `eval translate --template llamax-alpaca` sends."""
    import random

    from lingualift.data.instructions import InstructionConfig, _translation
    from lingualift.train.sft import _alpaca_parts

    directions = {("eng_Latn", "swh_Latn"): [("Good morning: how are you?", "Habari za asubuhi?")]}
    record = next(_translation(directions, InstructionConfig(varied_phrasings=0.0), random.Random(0), 1))
    trained, _ = _alpaca_parts(record)
    evaluated = get_template("llamax-alpaca").render("Good morning: how are you?", "eng_Latn", "swh_Latn", [])
    assert trained == evaluated
    assert evaluated.endswith("### Input:\nGood morning: how are you?\n### Response:")
