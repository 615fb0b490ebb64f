"""`data build` on the other executors: Slurm (without Slurm: a stand-in `sbatch` that
records each submission and runs its array tasks in order) and a local Ray cluster; both
must give the local executor's shards, byte for byte."""

import json
import os
import re
import stat
import sys
from pathlib import Path

import pytest

from lingualift.data.build import build
from lingualift.data.config import DataConfig, DedupConfig, PackConfig, SlurmConfig, Source

# Submits nothing: logs the arguments and script of each sbatch call, answers as sbatch does,
# then runs the script once per array index (the jobs come in dependency order).
SBATCH = """#!{python}
import json, os, re, subprocess, sys
log = os.environ["FAKE_SLURM_LOG"]
script = open(sys.argv[-1]).read()
with open(log) as f:
    job = sum(1 for _ in f) + 100
with open(log, "a") as f:
    f.write(json.dumps({{"job": job, "args": sys.argv[1:-1], "script": script}}) + "\\n")
print(f"Submitted batch job {{job}}", flush=True)
first, last = map(int, re.search(r"#SBATCH --array=(\\d+)-(\\d+)", script).group(1, 2))
offset = next((a.split("RUN_OFFSET=")[1] for a in sys.argv if "RUN_OFFSET=" in a), "0")
for index in range(first, last + 1):
    env = {{**os.environ, "SLURM_ARRAY_TASK_ID": str(index), "SLURM_ARRAY_JOB_ID": str(job), "RUN_OFFSET": offset,
           "SLURM_NODELIST": "localhost", "SLURM_JOB_ID": str(job)}}
    done = subprocess.run(["bash", sys.argv[-1]], env=env, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"job {{job}} task {{index}} failed: {{done.stderr[-2000:]}}")
"""
SRUN = "#!/bin/bash\nwhile [ \"$1\" != launch_pickled_pipeline ]; do shift; done\nexec \"$@\"\n"
SCONTROL = "#!/bin/bash\necho localhost\n"  # `scontrol show hostnames`, as datatrove asks it


def _config(flores, **kw):
    return DataConfig(sources=[Source(type="flores", path=str(flores), langs=["eng_Latn"], lines=":60"),
                               Source(type="flores", path=str(flores), langs=["swh_Latn"], lines=":90")],
                      dedup=DedupConfig(near=True), pack=PackConfig(tokenizer="tiny", block_size=128, docs_per_shard=60),
                      **kw)


def _shards(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.glob("shard-*.parquet"))}


@pytest.fixture()
def fake_slurm(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in (("sbatch", SBATCH.format(python=sys.executable)), ("srun", SRUN), ("scontrol", SCONTROL)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod((bin_dir / name).stat().st_mode | stat.S_IEXEC)
    log = tmp_path / "sbatch.jsonl"
    log.write_text("")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_SLURM_LOG", str(log))
    return log


def test_slurm_job_arrays_depend_on_each_other_and_give_the_local_shards(flores, fake_slurm, tmp_path):
    slurm = SlurmConfig(partition="cpu-long", time="02:00:00", cpus_per_task=2, mem_per_cpu_gb=3, job_name="ll",
                        sbatch_args={"account": "lang"})
    cfg = _config(flores, executor="slurm", slurm=slurm)
    assert build(cfg, tmp_path / "slurm") is None  # submitted; the last job writes the manifest
    jobs = [json.loads(line) for line in fake_slurm.read_text().splitlines()]
    arrays = [j for j in jobs if "launch_pickled_pipeline" in j["script"]]
    names = [re.search(r"--job-name=(\S+)", j["script"]).group(1) for j in arrays]
    assert names == ["ll-clean", "ll-exact-find", "ll-dedup", "ll-near-buckets", "ll-near-cluster", "ll-near-filter",
                     "ll-mix", "ll-render", "ll-continue-0", "ll-pack", "ll-finish-0"]
    clean = arrays[0]["script"]
    for line in ("#SBATCH --partition=cpu-long", "#SBATCH --time=02:00:00", "#SBATCH --cpus-per-task=2",
                 "#SBATCH --mem-per-cpu=3.0G", "#SBATCH --array=0-1", "#SBATCH --account=lang"):
        assert line in clean.splitlines()
    assert (tmp_path / "slurm" / ".work" / "logs" / "clean" / "launch_script.slurm").read_text() == clean
    # each array waits for the one before it; the jobs the continuation submits start after it
    for before, after in zip(arrays[:8], arrays[1:9]):
        assert f"--dependency=afterok:{before['job']}" in after["args"], (after["args"], before["job"])
    assert f"--dependency=afterok:{arrays[9]['job']}" in arrays[10]["args"]
    manifest = json.loads((tmp_path / "slurm" / "manifest.json").read_text())
    assert len(manifest["shards"]) == 3  # 150 documents less duplicates, at most 60 a shard: sized once mixed
    assert "#SBATCH --array=0-2" in arrays[9]["script"].splitlines()
    assert manifest["executor"] == "slurm"
    local = build(_config(flores), tmp_path / "local")
    assert [s["sha256"] for s in manifest["shards"]] == [s["sha256"] for s in local["shards"]]
    assert _shards(tmp_path / "slurm") == _shards(tmp_path / "local")


@pytest.fixture()
def ray_cluster():
    ray = pytest.importorskip("ray")
    ray.init(address="local", _node_ip_address="127.0.0.1", num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": os.environ.get("PYTHONPATH", "")}})
    yield
    ray.shutdown()


def test_ray_cluster_gives_the_local_shards(flores, ray_cluster, tmp_path):
    on_ray = build(_config(flores, executor="ray", workers=2), tmp_path / "ray")
    local = build(_config(flores, workers=2), tmp_path / "local")
    assert on_ray["executor"] == "ray" and on_ray["removed"] == local["removed"]
    assert _shards(tmp_path / "ray") == _shards(tmp_path / "local") != {}


def test_ray_split_sources_and_bad_input(flores, ray_cluster, tmp_path):
    """A source split over tasks gives the local shards on Ray too, and a bad line in a Ray
    task ends the build with the same one-line file:line error as on this machine."""
    split = _config(flores, executor="ray", workers=2)
    split.sources[1].tasks = 3
    assert build(split, tmp_path / "ray")["sources"][1]["tasks"] == 3
    build(_config(flores), tmp_path / "local")
    assert _shards(tmp_path / "ray") == _shards(tmp_path / "local") != {}
    lines = [f"Habari ya asubuhi rafiki yangu namba {i}." for i in range(1, 41)]
    (tmp_path / "bad.txt").write_bytes(("\n".join(lines) + "\n").encode().replace(b"namba 30.", b"namba \xff."))
    bad = DataConfig(sources=[Source(type="text", path=str(tmp_path / "bad.txt"), lang="sw", tasks=2)],
                     pack=PackConfig(tokenizer="tiny", block_size=128), executor="ray", workers=2)
    from lingualift.core.io import InputError

    with pytest.raises(InputError, match=r"bad\.txt:30: invalid UTF-8"):
        build(bad, tmp_path / "bad")
    assert not (tmp_path / "bad").exists()


def _synth(flores, tmp_path, **kw):
    """`data synth` of ten Swahili lines with `tiny`, in chunks of 3 (four chunks to deal out)."""
    from lingualift.core.io import read_lines
    from lingualift.data.synth import SynthConfig, SynthFilters

    corpus = tmp_path / "sw.txt"
    corpus.write_text("\n".join(read_lines(flores / "swh_Latn.dev")[:10]) + "\n", encoding="utf-8")
    return SynthConfig(sources=[Source(type="text", path=str(corpus), lang="sw")], lang="sw", into="en",
                       template="llamax-alpaca", max_new_tokens=8, chunk=3, batch_size=4,
                       filters=SynthFilters(language=False, max_length_ratio=50.0, repetition=False), **kw)


def test_synth_tasks_here_and_on_slurm_give_the_one_process_pairs(flores, fake_slurm, tmp_path):
    """Chunks dealt to 3 local tasks (2 at a time) or to a Slurm array of 2 (a GPU each) give
    the bytes of one process; on Slurm a job after the array writes the output and manifest."""
    from lingualift.data.synth_run import run

    one = run(_synth(flores, tmp_path), model="tiny", out=tmp_path / "one.jsonl")
    expected = (tmp_path / "one.jsonl").read_bytes()
    assert one["pairs"] > 0 and one["tasks"] == 1
    local = run(_synth(flores, tmp_path, tasks=3, workers=2), model="tiny", out=tmp_path / "local.jsonl")
    assert (tmp_path / "local.jsonl").read_bytes() == expected and local["removed"] == one["removed"]
    assert sorted(p.name for p in (tmp_path / "local.jsonl.parts" / "logs" / "synth-3" / "completions").iterdir()) \
        == ["00000", "00001", "00002"]

    cfg = _synth(flores, tmp_path, tasks=2, executor="slurm", gpus_per_task=1,
                 slurm=SlurmConfig(job_name="bt", sbatch_args={"account": "lang"}))
    assert run(cfg, model="tiny", out=tmp_path / "slurm.jsonl") is None  # submitted; its last job writes it
    jobs = [json.loads(line)["script"] for line in fake_slurm.read_text().splitlines()]
    jobs = [j for j in jobs if "launch_pickled_pipeline" in j]  # not datatrove's stats-merging jobs
    assert [re.search(r"--job-name=(\S+)", j).group(1) for j in jobs] == ["bt-synth-2", "bt-finish-0"]
    assert {"#SBATCH --array=0-1", "#SBATCH --gpus=1", "#SBATCH --account=lang"} <= set(jobs[0].splitlines())
    assert (tmp_path / "slurm.jsonl").read_bytes() == expected
    manifest = json.loads((tmp_path / "slurm.jsonl.manifest.json").read_text())
    assert manifest["executor"] == "slurm" and manifest["pairs"] == one["pairs"]


def test_synth_tasks_on_ray_give_the_one_process_pairs(flores, ray_cluster, tmp_path):
    from lingualift.data.synth_run import run

    run(_synth(flores, tmp_path), model="tiny", out=tmp_path / "one.jsonl")
    on_ray = run(_synth(flores, tmp_path, tasks=2, workers=2, executor="ray"), model="tiny", out=tmp_path / "ray.jsonl")
    assert on_ray["executor"] == "ray" and on_ray["tasks"] == 2
    assert (tmp_path / "ray.jsonl").read_bytes() == (tmp_path / "one.jsonl").read_bytes() != b""
