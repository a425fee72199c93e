"""MLflow shell: default locations, the champion/challenger gate, lineage, and a real server."""

from __future__ import annotations

import math
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churn.contract import Tables, empty_table
from churn.modeling import gate, promotion
from churn.pipelines import champion, lineage, registry, tracking
from churn.pipelines.champion import NoChampionError

# --- gate ---------------------------------------------------------------------------------


def test_challenger_equal_to_champion_is_promoted():
    assert gate(0.80, 0.80, tolerance=0.0)


def test_challenger_worse_than_champion_is_rejected():
    assert not gate(0.79, 0.80, tolerance=0.0)


def test_tolerance_allows_noise_sized_losses_only():
    assert gate(0.799, 0.80, tolerance=0.002)
    assert not gate(0.797, 0.80, tolerance=0.002)


def test_first_model_passes_without_a_champion():
    assert gate(0.7, None, tolerance=0.0)


def test_undefined_challenger_metric_never_passes():
    assert not gate(math.nan, 0.5, tolerance=0.1)
    assert not gate(math.nan, None)


# --- locations ----------------------------------------------------------------------------


def test_tracking_uri_defaults_to_sqlite_under_models(monkeypatch, tmp_path):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    uri = tracking.default_tracking_uri()
    assert uri == f"sqlite:///{tmp_path.resolve()}/models/mlflow.db"
    assert tracking.default_artifact_location(uri) == (tmp_path / "models/mlartifacts").as_uri()


def test_environment_overrides_the_tracking_uri(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5999")
    assert tracking.default_tracking_uri() == "http://127.0.0.1:5999"
    assert tracking.default_artifact_location("http://127.0.0.1:5999") is None


def test_no_champion_says_to_train_first_and_creates_nothing(tmp_path):
    uri = f"sqlite:///{tmp_path}/models/mlflow.db"
    with pytest.raises(NoChampionError, match="run make train first"):
        champion.load_champion(uri)
    assert not (tmp_path / "models" / "mlflow.db").exists()


# --- lineage ------------------------------------------------------------------------------


def _tables(score: float = 9.0) -> Tables:
    customers = pd.DataFrame(
        {
            "customer_id": ["a", "b"],
            "signup_date": pd.to_datetime(["2023-01-01", "2023-02-01"]),
            "churn_date": pd.to_datetime([None, "2024-01-01"]),
        }
    )
    nps = pd.DataFrame(
        {
            "customer_id": ["a"],
            "timestamp": pd.to_datetime(["2023-06-01"]),
            "score": [score],
            "recorded_at": pd.to_datetime(["2023-06-01"]),
        }
    )
    return Tables(
        customers=customers,
        interactions=empty_table("interactions"),
        nps=nps,
        usage=empty_table("usage"),
        extraction_date=pd.Timestamp("2024-06-01"),
    )


def test_fingerprint_is_stable_for_the_same_data():
    assert lineage.tables_fingerprint(_tables()) == lineage.tables_fingerprint(_tables())


def test_fingerprint_changes_when_one_value_changes():
    assert lineage.tables_fingerprint(_tables(9.0)) != lineage.tables_fingerprint(_tables(3.0))


def test_json_safe_turns_timestamps_and_numpy_into_plain_values():
    out = tracking.json_safe({"a": pd.Timestamp("2024-01-01"), "b": np.float64(0.5), "c": (1, 2)})
    assert out == {"a": "2024-01-01 00:00:00", "b": 0.5, "c": [1, 2]}


# --- a real MLflow server -----------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def mlflow_server(tmp_path):
    """``mlflow server`` on a free local port, sqlite backend and artefacts in tmp_path."""
    port = _free_port()
    mlflow_bin = Path(sys.executable).with_name("mlflow")
    env = {**os.environ, "MLFLOW_TRACKING_URI": ""}
    proc = subprocess.Popen(
        [
            str(mlflow_bin),
            "server",
            "--backend-store-uri",
            f"sqlite:///{tmp_path}/server.db",
            "--artifacts-destination",
            str(tmp_path / "artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"mlflow server exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            time.sleep(0.5)
    else:
        proc.terminate()
        raise RuntimeError("mlflow server did not start within 90 s")
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.mark.slow
def test_model_logged_to_a_real_server_loads_back_as_champion(mlflow_server, small_model):
    import mlflow

    result, frame = small_model
    with tracking.using_tracking_uri(mlflow_server):
        exp = tracking.get_or_create_experiment("churn-test", mlflow_server)
        with mlflow.start_run(experiment_id=exp) as run:
            info = registry.log_churn_model(result.model, frame)
    assert info.registered_model_version is not None
    with pytest.raises(NoChampionError):
        champion.load_champion(mlflow_server)

    registry.promote(info.registered_model_version, mlflow_server)
    loaded = champion.load_champion(mlflow_server)

    rows = frame.head(25)
    np.testing.assert_allclose(loaded.predict_proba(rows), result.model.predict_proba(rows))
    assert loaded.feature_names == result.model.feature_names
    assert loaded.metadata["run_id"] == run.info.run_id
    assert loaded.metadata["model_version"] == str(info.registered_model_version)
    # The stored model is LightGBM's own text format: no pickled project code involved.
    with tracking.using_tracking_uri(mlflow_server):
        local = mlflow.artifacts.download_artifacts("models:/churn@champion")
    assert (Path(local) / "model.lgb").exists()
    assert not list(Path(local).glob("*.pkl"))


# --- promotion decision -------------------------------------------------------------------


def test_first_model_is_promoted():
    assert promotion.decide_promotion(0.8, None, has_champion=False) == (
        True,
        "promoted: first model",
    )


def test_worse_challenger_keeps_the_champion_unless_forced():
    kept, why = promotion.decide_promotion(0.70, 0.80, has_champion=True)
    assert not kept and why.startswith("kept champion")
    forced, why = promotion.decide_promotion(0.70, 0.80, has_champion=True, force=True)
    assert forced and why.startswith("forced")


def test_champion_that_cannot_score_the_new_frame_is_not_replaced_silently():
    promoted, why = promotion.decide_promotion(
        0.9, None, has_champion=True, incomparable="feature set changed"
    )
    assert not promoted and "feature set changed" in why


def test_model_that_beats_the_oracle_is_rejected_as_leaking():
    promoted, why = promotion.decide_promotion(0.95, None, has_champion=False, oracle_ratio=1.08)
    assert not promoted and "leaks" in why
    assert promotion.decide_promotion(0.80, None, has_champion=False, oracle_ratio=0.97)[0]


def test_using_a_tracking_uri_leaves_the_environment_as_it_was(tmp_path, monkeypatch):
    # MLflow 3 writes MLFLOW_TRACKING_URI when a URI is set; a later run in the same process
    # must not silently go to this block's store.
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    with tracking.using_tracking_uri(f"sqlite:///{tmp_path}/a.db"):
        pass
    assert "MLFLOW_TRACKING_URI" not in os.environ
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5999")
    with tracking.using_tracking_uri(f"sqlite:///{tmp_path}/b.db"):
        pass
    assert os.environ["MLFLOW_TRACKING_URI"] == "http://127.0.0.1:5999"


def test_a_second_trainer_waits_for_the_store_lock(tmp_path, monkeypatch):
    from churn._files import LockedError

    uri = f"sqlite:///{tmp_path}/models/mlflow.db"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from churn.pipelines import tracking\n"
            f"with tracking.store_lock({uri!r}):\n"
            "    print('held', flush=True); time.sleep(3)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        monkeypatch.setenv("CHURN_LOCK_WAIT_S", "0.5")
        with pytest.raises(LockedError, match=f"pid {holder.pid}"), tracking.store_lock(uri):
            pass
        monkeypatch.setenv("CHURN_LOCK_WAIT_S", "30")
        started = time.monotonic()
        with tracking.store_lock(uri):  # waits until the first one lets go
            assert time.monotonic() - started > 1.0
    finally:
        holder.wait(30)


def test_training_dataset_infers_its_schema_from_a_sample(monkeypatch):
    # MLflow's own inference reads every value (minutes on a 100k-customer training frame);
    # the logged dataset must describe the whole frame but infer its schema from a sample.
    import mlflow.types.utils as mlflow_types
    from mlflow.types.utils import _infer_schema

    from churn.pipelines import run_dataset

    n = 5000
    frame = pd.DataFrame(
        {
            "customer_id": pd.Series([f"C{i}" for i in range(n)], dtype="str"),
            "as_of": pd.Timestamp("2025-01-06"),
            "label": np.where(np.arange(n) % 7 == 0, 1.0, 0.0),
            "n_tickets": np.arange(n, dtype=float),
            "plan": pd.Categorical(np.where(np.arange(n) % 2, "Pro", "Basic")),
        }
    )
    seen: list[int] = []
    real = mlflow_types._infer_schema

    def spy(data, *args, **kwargs):
        seen.append(len(data))
        return real(data, *args, **kwargs)

    monkeypatch.setattr(mlflow_types, "_infer_schema", spy)
    dataset = run_dataset.training_dataset(
        frame, source="/tmp/data", targets="label", name="demo", digest="abc"
    )
    assert dataset.schema == _infer_schema(frame)
    assert dataset.profile["num_rows"] == n
    assert seen and max(seen) <= run_dataset.SCHEMA_SAMPLE_ROWS
