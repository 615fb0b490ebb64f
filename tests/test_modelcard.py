"""Model cards in the hub's format, evaluation results in model-index form, and an offline push."""

import pytest
from huggingface_hub import ModelCard

from lingualift.core.assets import AssetUnavailable, push
from lingualift.inference import modelcard


def test_card_carries_base_languages_and_results_with_signatures_and_cis(tmp_path):
    folder = tmp_path / "demo-sft"
    folder.mkdir()
    modelcard.write(folder, stage="sft", base_model="HuggingFaceTB/SmolLM2-135M-Instruct", langs=["swh_Latn"],
                    datasets=["tatoeba eng-swa"])
    evaluation = {"meta": {"data": "flores:../shared/data/flores200"},
                  "directions": [{"direction": "eng_Latn-swh_Latn", "scores": {
                      "chrf++": {"score": 10.834, "signature": "nrefs:1|case:mixed|eff:yes|nc:6|nw:2|space:no|v:2.6.0"},
                      "off_target": {"score": 0.0, "signature": "lid"}}}],
                  "comparison": {"significance": {"eng_Latn-swh_Latn": {"chrf++": {
                      "ci": [1.2, 7.9], "p_value": 0.002, "delta": 4.5}}}}}
    modelcard.add_results(folder, modelcard.results_of(evaluation))
    card = ModelCard.load(folder / "README.md")
    assert card.data.base_model == "HuggingFaceTB/SmolLM2-135M-Instruct" and card.data.language == ["sw"]
    [result] = card.data.eval_results
    assert result.metric_type == "chrf++" and result.metric_value == 10.83
    assert "nrefs:1" in result.metric_name and "[+1.20, +7.90], p=0.002" in result.metric_name
    local = tmp_path / "other"
    local.mkdir()
    modelcard.write(local, stage="cpt", base_model=str(folder), langs=["swh_Latn", "tha_Thai"])
    assert ModelCard.load(local / "README.md").data.base_model is None  # a local path is no hub link
    later = tmp_path / "sft"
    later.mkdir()
    modelcard.write(later, stage="sft", base_model=str(local), langs=[])
    assert ModelCard.load(later / "README.md").data.language == ["sw", "th"]  # languages follow the chain


def test_push_offline_is_one_sentence(tmp_path):
    with pytest.raises(AssetUnavailable) as err:
        push(tmp_path, "someone/model")
    assert "offline" in str(err.value) and "\n" not in str(err.value)
