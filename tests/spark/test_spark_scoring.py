"""Scoring at scale: the champion through ``mlflow.pyfunc.spark_udf`` and reasons through a pandas
UDF on ``pred_contrib`` give, row for row, what ``ChurnModel`` gives in pandas (docs/spark.md).

Also the pyfunc flavour in plain pandas: ``mlflow.pyfunc.load_model(uri).predict(frame)`` on a
feature frame with category columns (it failed before: MLflow's schema check refused them).
"""

from __future__ import annotations

import shutil
import time

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pyspark")
if shutil.which("java") is None:
    pytest.skip("Spark needs Java (17) on the PATH", allow_module_level=True)

import mlflow
import mlflow.pyfunc

from churn import dataset
from churn.features.backend import connect
from churn.pipelines import spark_scoring
from churn.pipelines.registry import log_churn_model, promote
from churn.settings import EngineSettings

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def champion(tmp_path_factory, scoring_model_factory):
    root = tmp_path_factory.mktemp("champion")
    tables, model, as_of, _ = scoring_model_factory(root, seed=4, mess_rate=0.05)
    frame = dataset.build_scoring_frame(tables, as_of)
    uri = f"sqlite:///{root}/mlflow.db"
    mlflow.set_tracking_uri(uri)
    with mlflow.start_run():
        info = log_churn_model(model, frame, registered_model_name="churn")
    promote(info.registered_model_version, uri)
    yield model, frame, "models:/churn@champion"
    mlflow.set_tracking_uri(None)


def test_pyfunc_predicts_the_calibrated_probability_from_category_columns(champion):
    model, frame, uri = champion
    assert any(isinstance(frame[c].dtype, pd.CategoricalDtype) for c in model.feature_names)
    loaded = mlflow.pyfunc.load_model(uri)
    np.testing.assert_array_equal(loaded.predict(frame), model.predict_proba(frame))
    as_text = frame.astype({c: object for c in model.categorical_features})
    np.testing.assert_array_equal(loaded.predict(as_text), model.predict_proba(frame))


def test_champion_scored_through_spark_udf_equals_pandas(champion):
    model, frame, uri = champion
    session = connect(EngineSettings(backend="spark")).session
    from pyspark.sql.functions import struct

    sdf = spark_scoring.to_spark(session, frame)
    udf = spark_scoring.probability_udf(session, uri)
    start = time.perf_counter()
    got = (
        sdf.select("customer_id", udf(struct(*model.feature_names)).alias("p"))
        .toPandas()
        .set_index("customer_id")["p"]
    )
    print(f"spark_udf: {len(frame)} rows in {time.perf_counter() - start:.1f}s")
    want = pd.Series(model.predict_proba(frame), index=frame["customer_id"])
    np.testing.assert_array_equal(got.reindex(want.index).to_numpy(), want.to_numpy())


def test_reasons_through_a_pandas_udf_equal_pandas(champion):
    model, frame, uri = champion
    session = connect(EngineSettings(backend="spark")).session
    from pyspark.sql.functions import struct

    sdf = spark_scoring.to_spark(session, frame)
    reasons = spark_scoring.reasons_udf(uri, k=3)
    got = (
        sdf.select("customer_id", reasons(struct(*model.feature_names)).alias("r"))
        .select("customer_id", "r.*")
        .toPandas()
        .set_index("customer_id")
    )
    want = spark_scoring.top_reasons_frame(model, frame, 3).set_index(frame["customer_id"])
    assert want["reason_1_feature"].notna().any()
    assert not want["reason_1_feature"].isin(["acct_plan", "acct_region", "acct_arr"]).any()
    pd.testing.assert_frame_equal(got.reindex(want.index), want, check_exact=True)
