"""Development gRPC/REST server + GaitServingClient, against exported SavedModels."""
import json
import socket
import threading
import time
import urllib.error
import urllib.request

import numpy as np
import pytest

from serving_helpers import keras_embeddings, random_silhouettes, tiny_silhouette_model

grpc = pytest.importorskip("grpc")
tf = pytest.importorskip("tensorflow")

from gait_tf.errors import ServingError  # noqa: E402
from gait_tf.serving import DevServer, GaitServingClient  # noqa: E402
from gait_tf.serving.export import export_model  # noqa: E402


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """Two versions of model 'tiny' (policy all) and one of 'other'; a running dev server."""
    root = tmp_path_factory.mktemp("saved_models")
    m1 = tiny_silhouette_model(seed=0)
    m2 = tiny_silhouette_model(seed=1)
    export_model(m1, root / "tiny", input_kind="silhouette", version_policy="all")
    export_model(m2, root / "tiny", input_kind="silhouette", version_policy="all", warmup=False)
    export_model(m2, root / "other", input_kind="silhouette", warmup=False)
    server = DevServer(root / "models.config", port=0, rest_port=0, banner=False).start()
    yield {"server": server, "v1": m1, "v2": m2, "root": root}
    server.stop()


def test_grpc_predict_status_metadata(served):
    server = served["server"]
    x = random_silhouettes(3, 9, seed=2)
    with GaitServingClient(server.target, "tiny") as client:
        assert client.status() == [{"version": 1, "state": "AVAILABLE"}, {"version": 2, "state": "AVAILABLE"}]
        meta = client.metadata()
        assert meta["serving_default"]["inputs"]["silhouettes"] == {"dtype": "DT_UINT8", "shape": None}
        assert meta["serving_default"]["outputs"]["embeddings"]["shape"] == [-1, 2, 4]
        out = client.predict({"silhouettes": x})  # latest version (2)
        np.testing.assert_allclose(out["embeddings"], keras_embeddings(served["v2"], x), atol=1e-5)
        np.testing.assert_allclose(np.linalg.norm(out["embedding"], axis=1), 1.0, atol=1e-5)
        np.testing.assert_allclose(client.embed(x.astype(np.float32) / 255), out["embeddings"], atol=1e-5)
    with GaitServingClient(server.target, "tiny", version=1) as v1:
        np.testing.assert_allclose(v1.embed(x[0]), keras_embeddings(served["v1"], x[:1])[0], atol=1e-5)
    # warm-up requests of version 1 were replayed at load time
    assert server.repo.models["tiny"].versions[1].warmup_replayed == 2


def test_grpc_errors_map_to_status_codes(served):
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    server = served["server"]
    channel = grpc.insecure_channel(server.target)
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)

    def call(name="tiny", x=None, signature="serving_default", version=None):
        req = predict_pb2.PredictRequest()
        req.model_spec.name, req.model_spec.signature_name = name, signature
        if version is not None:
            req.model_spec.version.value = version
        req.inputs["silhouettes"].CopyFrom(tf.make_tensor_proto(random_silhouettes(1, 2) if x is None else x))
        with pytest.raises(grpc.RpcError) as info:
            stub.Predict(req, timeout=30)
        return info.value.code(), info.value.details()

    code, details = call(x=random_silhouettes(1, 2)[:, :, :32])
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "silhouettes frames must be 64x44 pixels" in details
    code, details = call(x=random_silhouettes(1, 2)[:, :0])
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "at least one frame" in details
    code, details = call(x=np.zeros((1, 2, 64, 44), np.float32))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "must be uint8" in details
    code, details = call(signature="nope")
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "'nope' not found" in details
    code, details = call(name="ghost")
    assert code == grpc.StatusCode.NOT_FOUND and "model 'ghost' is not served" in details
    code, details = call(version=9)
    assert code == grpc.StatusCode.NOT_FOUND and "version 9 of model 'tiny'" in details
    channel.close()
    # ... and the client turns them into readable ServingErrors
    with GaitServingClient(server.target, "tiny") as client:
        with pytest.raises(ServingError, match="INVALID_ARGUMENT.*silhouettes must have rank 4"):
            client.predict({"silhouettes": random_silhouettes(1, 2)[0]})
        with pytest.raises(ServingError, match="must be DT_UINT8, got numpy int64"):
            client.predict({"silhouettes": np.zeros((1, 2, 64, 44), np.int64)})


def test_rest_predict_status_metadata(served):
    server = served["server"]
    x = random_silhouettes(2, 5, seed=4)
    ref = keras_embeddings(served["v2"], x)
    with GaitServingClient(server.rest_url, "tiny") as client:
        assert client.status()[0] == {"version": 2, "state": "AVAILABLE"}
        assert client.metadata()["serving_default"]["inputs"]["silhouettes"]["dtype"] == "DT_UINT8"
        np.testing.assert_allclose(client.embed(x), ref, atol=1e-5)
    # row ("instances") format, TF Serving style
    body = json.dumps({"instances": x.tolist()}).encode()
    req = urllib.request.Request(f"{server.rest_url}/v1/models/tiny/versions/2:predict", data=body, method="POST")
    with urllib.request.urlopen(req, timeout=30) as resp:
        preds = json.loads(resp.read())["predictions"]
    np.testing.assert_allclose(np.array([p["embeddings"] for p in preds]), ref, atol=1e-5)
    # errors: 400 with the graph's message, 404 for unknown models
    bad = json.dumps({"inputs": {"silhouettes": x[:, :, :10].tolist()}}).encode()
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(urllib.request.Request(f"{server.rest_url}/v1/models/tiny:predict", data=bad,
                                                      method="POST"), timeout=30)
    assert info.value.code == 400 and "64x44 pixels" in json.loads(info.value.read())["error"]
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(f"{server.rest_url}/v1/models/ghost", timeout=30)
    assert info.value.code == 404


def test_signature_check_and_chunking(served):
    server = served["server"]
    with pytest.raises(ServingError, match="does not have the expected signature: serving_default: input "
                                           "'pose_features' missing"):
        GaitServingClient(server.target, "tiny", kind="pose_features").predict(
            {"pose_features": np.zeros((1, 2, 17, 17, 32), np.float32)})
    # a send limit that fits 2 sequences of 9 frames: a batch of 5 goes as 3 requests
    per_item = 9 * 64 * 44
    client = GaitServingClient(server.target, "tiny", max_message_bytes=64 * 1024 + 2 * per_item + 100)
    x = random_silhouettes(5, 9, seed=6)
    calls = []
    original = client._predict_once
    client._predict_once = lambda inputs, sig: calls.append(len(inputs["silhouettes"])) or original(inputs, sig)
    np.testing.assert_allclose(client.embed(x), keras_embeddings(served["v2"], x), atol=1e-5)
    assert calls == [2, 2, 1]
    with pytest.raises(ServingError, match="over the 0 MiB message limit"):
        GaitServingClient(server.target, "tiny", max_message_bytes=64 * 1024 + 1000).embed(x)
    client.close()


def test_retries_on_unavailable_until_server_starts(served):
    port = _free_port()
    late = DevServer(served["root"] / "models.config", port=port, rest_port=None, banner=False, warmup=False)
    timer = threading.Timer(0.6, late.start)
    timer.start()
    try:
        client = GaitServingClient(f"127.0.0.1:{port}", "other", retries=8, backoff=0.1, timeout=10)
        t0 = time.monotonic()
        out = client.embed(random_silhouettes(1, 3))
        assert time.monotonic() - t0 >= 0.5 and out.shape == (1, 2, 4)
        client.close()
    finally:
        timer.join()
        late.stop()
    dead = GaitServingClient(f"127.0.0.1:{_free_port()}", "other", retries=1, backoff=0.01, timeout=2)
    with pytest.raises(ServingError, match="UNAVAILABLE"):
        dead.status()
    dead.close()


def test_serve_command_requires_dev_flag_and_loopback(served, capsys):
    from gait_tf import cli

    assert cli.main(["serve", "--model-config", str(served["root"] / "models.config")]) == 2
    captured = capsys.readouterr()
    assert "docker run --gpus all" in captured.out and "pass --dev" in captured.err
    with pytest.raises(ServingError, match="loopback only"):
        DevServer(served["root"] / "models.config", host="0.0.0.0")
    with pytest.raises(ServingError, match="model config not found"):
        DevServer(served["root"] / "missing.config")


def test_serving_demo_flow_enrolls_and_identifies_over_grpc(tmp_path, capsys):
    from gait_tf.gallery import Gallery
    from gait_tf.serving.demo_flow import run_serving_demo

    model = tiny_silhouette_model(seed=3)
    model.save(tmp_path / "trained.keras")
    seqs = {s: random_silhouettes(1, 6, seed=10 + i)[0] for i, s in enumerate(["001", "002", "003"])}
    pretreated = np.zeros((6, 64, 64), np.uint8)
    pretreated[:, :, 10:54] = seqs["002"]  # a [T, 64, 64] probe is cropped to the central 44 columns
    stranger = random_silhouettes(1, 6, seed=99)[0]
    probes = [("001", seqs["001"], "subject 001 nm-05 view 090"), ("002", pretreated), ("003", seqs["003"]),
              (None, stranger, "subject 016 nm-05 view 090 (never enrolled)")]
    report = run_serving_demo(tmp_path / "trained.keras", seqs, probes, tmp_path / "demo", progress=False,
                              threshold=1e-3)
    assert report["rank1_accuracy"] == 1.0 and report["enrolled"] == 3
    assert [p["predicted"] for p in report["probes"]] == ["001", "002", "003", "unknown"]
    assert max(p["distance"] for p in report["probes"][:3]) < 1e-4  # same sequence, served twice
    assert report["export"]["version"] == 1 and report["server"].startswith("127.0.0.1:")
    gallery = Gallery.load(report["gallery"])
    assert gallery.subjects == ["001", "002", "003"]
    np.testing.assert_allclose(gallery.embeddings[0], keras_embeddings(model, seqs["001"][None])[0], atol=1e-5)
    # each probe line says which probe it is; the stranger's says it was never enrolled
    lines = [ln.strip() for ln in capsys.readouterr().out.splitlines() if ln.strip().startswith("probe ")]
    assert lines[0].startswith("probe subject 001 nm-05 view 090") and lines[0].endswith("→ '001' (distance 0.000) ✓")
    assert lines[1].startswith("probe subject 002 #0") and "→ '002'" in lines[1]
    assert lines[3].startswith("probe subject 016 nm-05 view 090 (never enrolled) → 'unknown'")
    assert lines[3].endswith("✓ (rejected)")


def _config(root, entries):
    """A models.config at ``root`` with ``entries`` [(name, base_path, policy text)]."""
    root.mkdir(parents=True, exist_ok=True)
    body = "".join(f'config {{ name: "{n}" base_path: "{b}" model_platform: "tensorflow" '
                   f'model_version_policy {{ {p} }} }}\n' for n, b, p in entries)
    (root / "models.config").write_text(f"model_config_list {{\n{body}}}\n")
    return root / "models.config"


def test_server_refuses_to_start_without_a_servable_version(tmp_path, capsys):
    """Checked before anything listens or loads: never "serving versions []"."""
    from gait_tf import cli

    missing = _config(tmp_path / "a", [("ghost", "/nowhere/ghost", "latest { num_versions: 1 }")])
    with pytest.raises(ServingError, match=r"model 'ghost': base_path '/nowhere/ghost' .* does not exist"):
        DevServer(missing, banner=False)
    (tmp_path / "b" / "empty" / "1").mkdir(parents=True)  # a version folder without saved_model.pb
    empty = _config(tmp_path / "b", [("empty", "empty", "latest { num_versions: 1 }")])
    with pytest.raises(ServingError, match=r"model 'empty': no servable version under .*empty"):
        DevServer(empty, banner=False)
    assert cli.main(["serve", "--dev", "--model-config", str(empty), "--rest-port", "-1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("gait-tf serve: error: model 'empty': no servable version")


def test_server_refuses_bad_ports_workers_and_a_port_in_use(served, tmp_path):
    config = _config(tmp_path / "c", [("other", str(served["root"] / "other"), "latest { num_versions: 1 }")])
    for kwargs, match in [({"max_workers": 0}, "max_workers"), ({"port": 70000}, "port must be a TCP port"),
                          ({"port": -5}, "port must be a TCP port"), ({"rest_port": 65536}, "rest_port"),
                          ({"max_batch": 0}, "max_batch"), ({"max_request_bytes": 0}, "max_request_bytes")]:
        with pytest.raises(ServingError, match=match):
            DevServer(config, banner=False, warmup=False, **kwargs)
    busy = served["server"].port
    with pytest.raises(ServingError, match=f"gRPC port 127.0.0.1:{busy}: already in use"):
        DevServer(config, port=busy, rest_port=None, banner=False, warmup=False)
    # two servers built while the port was free: the second cannot share it once the first
    # listens (gRPC's default SO_REUSEPORT is off)
    port = _free_port()
    first = DevServer(config, port=port, rest_port=None, banner=False, warmup=False)
    second = DevServer(config, port=port, rest_port=None, banner=False, warmup=False)
    first.start()
    try:
        with pytest.raises(ServingError, match=f"cannot bind gRPC port 127.0.0.1:{port}"):
            second.start()
        with GaitServingClient(first.target, "other") as client:  # the first one still serves
            assert client.embed(random_silhouettes(1, 3)).shape == (1, 2, 4)
    finally:
        first.stop()
        second.stop()


def test_request_limits_max_batch_and_decoded_size(served, tmp_path):
    import shutil

    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    # the fixture's server: max_batch_size of the batching.config that export wrote
    tiny = served["server"].repo.models["tiny"]
    assert tiny.max_batch == 32 and tiny.max_batch_source.endswith("batching.config")
    # TF Serving's per-model file in a version folder wins over batching.config
    shutil.copytree(served["root"] / "other", tmp_path / "m" / "other")
    (tmp_path / "m" / "other" / "1" / "batching_params.pbtxt").write_text("max_batch_size { value: 4 }\n")
    (tmp_path / "m" / "batching.config").write_text("max_batch_size { value: 16 }\n")
    config = _config(tmp_path / "m", [("other", "other", "latest { num_versions: 1 }"),
                                      ("tiny", str(served["root"] / "tiny"), "all {}")])
    with DevServer(config, rest_port=0, banner=False, warmup=False, max_batch={"tiny": 2},
                   max_request_bytes=200_000) as server:
        assert server.repo.models["other"].max_batch == 4 and server.repo.models["tiny"].max_batch == 2
        channel = grpc.insecure_channel(server.target)
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)

        def call(name, proto):
            req = predict_pb2.PredictRequest()
            req.model_spec.name = name
            req.inputs["silhouettes"].CopyFrom(proto)
            with pytest.raises(grpc.RpcError) as info:
                stub.Predict(req, timeout=30)
            return info.value.code(), info.value.details()

        code, details = call("tiny", tf.make_tensor_proto(random_silhouettes(3, 2)))
        assert code == grpc.StatusCode.INVALID_ARGUMENT
        assert "batch of 3 in input 'silhouettes' is larger than model 'tiny''s maximum batch 2 (--max-batch)" \
            in details
        code, details = call("other", tf.make_tensor_proto(random_silhouettes(5, 2)))
        assert code == grpc.StatusCode.INVALID_ARGUMENT and "maximum batch 4 (max_batch_size in" in details
        # 1 x 80 frames x 64 x 44 = 225 KB decoded > 200 KB
        code, details = call("other", tf.make_tensor_proto(random_silhouettes(1, 80)))
        assert code == grpc.StatusCode.RESOURCE_EXHAUSTED and "over the server's limit of 0.2 MiB" in details
        # a 30-byte proto declaring 1000 x 30000 x 64 x 44 (one repeated value): refused by its
        # shape, never allocated (78 GiB)
        huge = tf.make_tensor_proto(np.zeros((1,), np.uint8))
        huge.tensor_shape.Clear()
        for d in (1000, 30000, 64, 44):
            huge.tensor_shape.dim.add().size = d
        huge.ClearField("tensor_content")
        huge.int_val.append(0)
        assert huge.ByteSize() < 64
        code, details = call("other", huge)
        assert code == grpc.StatusCode.RESOURCE_EXHAUSTED and "78.68 GiB" in details
        channel.close()
        # REST: the same limits (400 / 413)
        body = json.dumps({"inputs": {"silhouettes": random_silhouettes(3, 2).tolist()}}).encode()
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(urllib.request.Request(f"{server.rest_url}/v1/models/tiny:predict", data=body,
                                                          method="POST"), timeout=30)
        assert info.value.code == 400 and "maximum batch 2" in json.loads(info.value.read())["error"]
        body = json.dumps({"inputs": {"silhouettes": random_silhouettes(1, 30).tolist()}}).encode()
        assert len(body) > 200_000
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(urllib.request.Request(f"{server.rest_url}/v1/models/tiny:predict", data=body,
                                                          method="POST"), timeout=30)
        assert info.value.code == 413 and "--max-request-mb" in json.loads(info.value.read())["error"]
        # a client told the maximum batch splits its requests and gets the same embeddings
        x = random_silhouettes(5, 3, seed=8)
        with GaitServingClient(server.target, "tiny", max_batch=2) as client:
            np.testing.assert_allclose(client.embed(x), keras_embeddings(served["v2"], x), atol=1e-5)
    with pytest.raises(ServingError, match=r"--max-batch names model\(s\) \['ghost'\]"):
        DevServer(config, banner=False, warmup=False, max_batch={"ghost": 3})
