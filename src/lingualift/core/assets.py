"""The one resolver for every remote asset: hub models, sacrebleu's SentencePiece models, COMET.

Each asset is looked for where its own tool keeps it (the Hugging Face cache, `$SACREBLEU`),
fetched only when the network is allowed, and otherwise reported with the exact file to
put where. Nothing here runs at import time.

Environment: `LINGUALIFT_OFFLINE=1` (or `HF_HUB_OFFLINE=1`) forbids any download;
`LINGUALIFT_CACHE` moves lingualift's own cache (default `~/.cache/lingualift`);
`SACREBLEU` moves sacrebleu's (default `~/.sacrebleu`).
"""

from __future__ import annotations

import os
import urllib.request
from pathlib import Path

from lingualift.core.io import InputError, atomic_path

# A download that has not started within this many seconds is treated as "offline".
DOWNLOAD_TIMEOUT_S = 30
# A metadata question (is this dataset there?) is one small request: a dry run asking it for
# every dataset of a recipe should not wait a download's time for each.
METADATA_TIMEOUT_S = 5


class AssetUnavailable(InputError):  # noqa: N818 (public API, imported across the project; keep the name)
    """A remote asset that is neither cached nor reachable; the message says how to fix it."""


def offline() -> bool:
    flags = ("LINGUALIFT_OFFLINE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    return any(os.environ.get(flag, "").lower() in ("1", "true", "yes") for flag in flags)


def cache_dir() -> Path:
    return Path(os.environ.get("LINGUALIFT_CACHE", Path.home() / ".cache" / "lingualift"))


def sacrebleu_dir() -> Path:
    """Read at call time: sacrebleu itself reads `$SACREBLEU` once, at import."""
    return Path(os.environ.get("SACREBLEU", Path.home() / ".sacrebleu"))


def spm_model(name: str, explicit: str | os.PathLike | None = None) -> Path:
    """Path of sacrebleu's SentencePiece model for spBLEU (`flores101` or `flores200`)."""
    from sacrebleu.tokenizers.tokenizer_spm import SPM_MODELS

    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise AssetUnavailable(f"--spm-model {path} does not exist")
        return path
    url = SPM_MODELS[name]["url"]
    path = sacrebleu_dir() / "models" / os.path.basename(url)
    if path.is_file():
        return path
    fix = f"put the file from {url} at {path} (or pass --spm-model PATH)"
    if offline():
        raise AssetUnavailable(f"spBLEU ({name}) unavailable offline: {fix}")
    try:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
            with atomic_path(path) as tmp:
                tmp.write_bytes(response.read())
    except OSError as err:
        raise AssetUnavailable(f"spBLEU ({name}) unavailable ({err}): {fix}") from None
    return path


def hub_snapshot(repo_id: str, *, kind: str = "model") -> Path:
    """A local snapshot of a hub repository: from the HF cache, or downloaded when online."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    try:
        return Path(snapshot_download(repo_id, repo_type=kind, local_files_only=offline()))
    except (LocalEntryNotFoundError, HfHubHTTPError, OSError, ValueError) as err:
        reason = "offline" if offline() else f"the hub could not be reached ({type(err).__name__})"
        raise AssetUnavailable(
            f"{kind} {repo_id!r} is not in the Hugging Face cache and {reason}: run "
            f"`hf download {repo_id}` where there is network and copy the cache "
            f"(HF_HOME, default ~/.cache/huggingface) here, or pass a local directory"
        ) from None


def hub_dataset_reachable(repo_id: str) -> bool:
    """Whether the hub answers for a dataset: one metadata call, nothing downloaded. Offline
    (LINGUALIFT_OFFLINE / HF_HUB_OFFLINE) it is False at once, without a request, so a dry run
    can say which datasets a run would not reach."""
    if offline():
        return False
    import httpx
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    try:
        HfApi().dataset_info(repo_id, timeout=METADATA_TIMEOUT_S)
    except (HfHubHTTPError, httpx.HTTPError, OSError, ValueError):  # no such dataset, no network, a timeout
        return False
    return True


def push(folder: str | os.PathLike, repo_id: str) -> str:
    """Upload a folder (model, tokenizer, card, report) to a hub model repository, creating it;
    offline or unreachable, one sentence saying so. Returns the repository's URL."""
    if offline():
        raise AssetUnavailable(f"cannot push {folder} to {repo_id!r}: offline (LINGUALIFT_OFFLINE / HF_HUB_OFFLINE "
                               "is set); run `hf upload` from a machine with network")
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    api = HfApi()
    try:
        api.create_repo(repo_id, exist_ok=True)
        api.upload_folder(folder_path=str(folder), repo_id=repo_id)
    except (HfHubHTTPError, OSError, ValueError) as err:
        raise AssetUnavailable(f"cannot push {folder} to {repo_id!r}: {type(err).__name__} "
                               f"({str(err).splitlines()[0] if str(err) else 'no detail'})") from None
    return f"https://huggingface.co/{repo_id}"
