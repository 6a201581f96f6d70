"""GaitNetwork: TF1-checkpoint parity (TF1 graph + Saver), masking, save/restore, registry."""
import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from gait_tf.errors import CheckpointError, ModelError  # noqa: E402
from gait_tf.pose.gait_network import GaitNetwork  # noqa: E402

U = 512


def _tf1_gaitnn_graph(x_np, unit, n_layers, seed, shared=False):
    """The original GaitNN inference graph written with TF1 ops and TF1 variable names
    (TF1 GRUCell / LSTMCell equations, forget_bias=1.0). ``shared``: every layer uses
    ``cell_0``'s variables (``MultiRNNCell([cell] * n)`` under TF >= 1.2). Returns
    (variables, outputs)."""
    rng = np.random.default_rng(seed)
    variables = []

    def var(name, shape, kind="w"):
        if kind == "w":
            fan_in = int(np.prod(shape[:-1]))
            val = rng.standard_normal(shape) * np.sqrt(1.0 / fan_in)
        elif kind == "var":
            val = rng.uniform(0.5, 1.5, shape)
        else:
            val = rng.standard_normal(shape) * 0.1
        v = tf.compat.v1.Variable(val.astype(np.float32), name=name)
        variables.append(v)
        return v

    def bn(x, scope):
        c = x.shape[-1]
        beta, mean, var_ = var(f"{scope}/beta", [c], "b"), var(f"{scope}/moving_mean", [c], "b"), var(
            f"{scope}/moving_variance", [c], "var")
        return (x - mean) / tf.sqrt(var_ + 1e-4) + beta

    def conv(x, scope, out, k, stride=1, bias=True):
        w = var(f"{scope}/weights", [k, k, x.shape[-1], out])
        y = tf.nn.conv2d(x, w, [1, stride, stride, 1], "SAME")
        return y + var(f"{scope}/biases", [out], "b") if bias else y

    def conv_bn_elu(x, scope, out, k):
        return tf.nn.elu(bn(conv(x, scope, out, k, bias=False), f"{scope}/BatchNorm"))

    def res(x, scope, ch, inner):
        short = conv(x, f"{scope}/Conv", ch, 1, 2)
        r = conv(tf.nn.relu(bn(x, f"{scope}/BatchNorm")), f"{scope}/Conv_1", inner, 1)
        r = conv(tf.nn.relu(bn(r, f"{scope}/BatchNorm_1")), f"{scope}/Conv_2", inner, 3, 2)
        r = conv(tf.nn.relu(bn(r, f"{scope}/BatchNorm_2")), f"{scope}/Conv_3", ch, 1)
        return tf.nn.relu(r + short)

    x = tf.constant(x_np) / 100.0
    p = "GaitNN/DownSampling"
    net = conv_bn_elu(x, f"{p}/17x17/Conv", 256, 1)
    net = res(net, f"{p}/8x8/ResidualBlock", 512, 64)
    net = res(net, f"{p}/4x4/ResidualBlock", 512, 128)
    net = conv_bn_elu(net, f"{p}/4x4/Conv", 256, 1)
    net = conv_bn_elu(net, f"{p}/4x4/Conv_1", 256, 3)
    net = tf.reshape(net, [x_np.shape[0], -1])
    net = net @ var("GaitNN/FullyConnected/fully_connected/weights", [6400, U]) + var(
        "GaitNN/FullyConnected/fully_connected/biases", [U], "b")
    seq = [net[t:t + 1] for t in range(x_np.shape[0])]
    states = []
    cell0 = {}
    plain_var = var

    def var(name, shape, kind="w"):  # noqa: F811 - cell_0 reuse when shared
        if shared and name in cell0:
            return cell0[name]
        v = plain_var(name, shape, kind)
        cell0[name] = v
        return v

    for layer in range(n_layers):
        base = f"GaitNN/Recurrent/rnn/multi_rnn_cell/cell_{0 if shared else layer}"
        h = tf.zeros([1, U])
        c = tf.zeros([1, U])
        out = []
        if unit == "GRU":
            wg, bg = var(f"{base}/gru_cell/gates/kernel", [2 * U, 2 * U]), var(f"{base}/gru_cell/gates/bias", [2 * U], "b")
            wc, bc = var(f"{base}/gru_cell/candidate/kernel", [2 * U, U]), var(f"{base}/gru_cell/candidate/bias", [U], "b")
            for xt in seq:  # TF1 GRUCell
                r, u = tf.split(tf.sigmoid(tf.concat([xt, h], 1) @ wg + bg), 2, axis=1)
                cand = tf.tanh(tf.concat([xt, r * h], 1) @ wc + bc)
                h = u * h + (1 - u) * cand
                out.append(h)
            states.append(h)
        else:
            w, b = var(f"{base}/lstm_cell/kernel", [2 * U, 4 * U]), var(f"{base}/lstm_cell/bias", [4 * U], "b")
            for xt in seq:  # TF1 LSTMCell, forget_bias = 1.0
                i, j, f, o = tf.split(tf.concat([xt, h], 1) @ w + b, 4, axis=1)
                c = tf.sigmoid(f + 1.0) * c + tf.sigmoid(i) * tf.tanh(j)
                h = tf.sigmoid(o) * tf.tanh(c)
                out.append(h)
            states.append((c, h))
        seq = out
    signature = tf.reduce_mean(tf.concat(seq, 0), 0)
    return variables, signature, states


@pytest.fixture(scope="module")
def features():
    rng = np.random.default_rng(3)
    return (rng.standard_normal((6, 17, 17, 32)) * 60).astype(np.float32)


@pytest.mark.parametrize("unit,n_layers,shared", [("GRU", 2, False), ("LSTM", 2, True)])
def test_tf1_checkpoint_parity(tmp_path, features, unit, n_layers, shared):
    prefix = str(tmp_path / "gait.ckpt")
    with tf.Graph().as_default():
        variables, sig, states = _tf1_gaitnn_graph(features, unit, n_layers, seed=1, shared=shared)
        # an unused variable of the original's dead slim.repeat blocks must be ignored
        variables.append(tf.compat.v1.Variable(np.ones([1, 1, 256, 64], np.float32),
                                               name="GaitNN/DownSampling/17x17/Repeat/residual_block_1/Conv/weights"))
        saver = tf.compat.v1.train.Saver(variables)
        with tf.compat.v1.Session() as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            ref_sig, ref_states = sess.run([sig, states])
            saver.save(sess, prefix)
    net = GaitNetwork(recurrent_unit=unit, rnn_layers=n_layers)
    report = net.restore(prefix)
    assert report["missing"] == [] and report["unused"] == [
        "GaitNN/DownSampling/17x17/Repeat/residual_block_1/Conv/weights"]
    vec, st = net.feed_forward(features)
    assert vec.shape == (512,) and len(st) == n_layers
    np.testing.assert_allclose(vec, ref_sig, atol=2e-4, rtol=1e-3)
    assert np.abs(vec).max() > 1e-2  # not a degenerate all-zero comparison
    for mine, ref in zip(st, ref_states):
        np.testing.assert_allclose(np.concatenate([np.ravel(a) for a in np.atleast_1d(mine)]) if unit == "LSTM"
                                   else mine, np.concatenate([np.ravel(a) for a in ref]) if unit == "LSTM" else ref,
                                   atol=2e-4, rtol=1e-3)
    # save() writes the same TF1 names back: values round-trip exactly
    out = net.save(tmp_path / "again.ckpt")
    reader = tf.train.load_checkpoint(out)
    orig = tf.train.load_checkpoint(prefix)
    for name in reader.get_variable_to_shape_map():
        src = name.replace("cell_1/", "cell_0/") if shared else name
        np.testing.assert_allclose(reader.get_tensor(name), orig.get_tensor(src), atol=1e-6, err_msg=name)


def test_masked_batch_equals_single_sequences(features):
    net = GaitNetwork(recurrent_unit="GRU", rnn_layers=1)
    short = features[:3]
    batch = net.feed_forward_batch([features, short])
    np.testing.assert_allclose(batch[0], net.feed_forward(features)[0], atol=1e-5)
    np.testing.assert_allclose(batch[1], net.feed_forward(short)[0], atol=1e-5)
    # padding with garbage beyond the length changes nothing
    padded = np.concatenate([short, np.full((3, 17, 17, 32), 1e3, np.float32)])[None]
    np.testing.assert_allclose(net.feed_forward_batch(padded, [3])[0], batch[1], atol=1e-5)
    with pytest.raises(ModelError, match="lengths"):
        net.feed_forward_batch(padded, [7])
    with pytest.raises(ModelError, match="spatial_features"):
        net.feed_forward(features[:, :16])


def test_keras_weights_roundtrip_and_bad_checkpoint(tmp_path, features):
    a = GaitNetwork(recurrent_unit="LSTM", rnn_layers=1)
    path = a.save(tmp_path / "g.weights.h5")
    b = GaitNetwork(recurrent_unit="LSTM", rnn_layers=1)
    assert not np.allclose(a.feed_forward(features)[0], b.feed_forward(features)[0])
    b.restore(path)
    np.testing.assert_allclose(a.feed_forward(features)[0], b.feed_forward(features)[0], atol=1e-6)
    # a GRU checkpoint lacks the LSTM variables: error names the checkpoint and a variable
    gru = GaitNetwork(recurrent_unit="GRU", rnn_layers=1)
    ck = gru.save(tmp_path, "gru")
    with pytest.raises(CheckpointError, match="lstm_cell"):
        b.restore(ck)
    with pytest.raises(CheckpointError, match="nope"):
        b.restore(tmp_path / "nope.ckpt")
    with pytest.raises(ModelError, match="recurrent_unit"):
        GaitNetwork(recurrent_unit="RNN")


def test_registry_gaitnn():
    from gait_tf import models

    spec = models.get_spec("gaitnn")
    assert spec.input_kind == "pose_features"
    m = models.create("gaitnn", preset="gru2", num_classes=4)
    out = m(np.zeros((2, 3, 17, 17, 32), np.float32))
    assert tuple(out["embeddings"].shape) == (2, 1, 512) and tuple(out["logits"].shape) == (2, 1, 4)


def test_gait_trainer_softmax_and_triplet():
    from gait_tf.pose.training import GaitTrainer, _gait_loss

    rng = np.random.default_rng(0)
    protos = rng.standard_normal((3, 1, 17, 17, 32)).astype(np.float32) * 80
    labels = np.array([0, 1, 2, 0, 1, 2])
    feats = protos[labels] + rng.standard_normal((6, 3, 17, 17, 32)).astype(np.float32) * 20
    lengths = np.array([3, 3, 2, 2, 3, 3])
    net = GaitNetwork(num_of_persons=3)
    tr = GaitTrainer(net, "softmax", learning_rate=1e-3, clipnorm=1.0)
    losses = [tr.train_step(feats, lengths, labels) for _ in range(5)]
    assert np.isfinite(losses).all() and np.mean(losses[-2:]) < losses[0]
    # the triplet option: batch-all triplet loss of the identification vectors
    out = net.model({"features": feats, "lengths": lengths})
    trip = float(_gait_loss(out, labels, "triplet", 0.2))
    emb = out["embeddings"].numpy()[:, 0]
    d = np.linalg.norm(emb[:, None] - emb[None], axis=-1)
    terms = [max(d[a, p] - d[a, n] + 0.2, 0) for a in range(6) for p in range(6) for n in range(6)
             if labels[a] == labels[p] and labels[a] != labels[n]]
    nz = [t for t in terms if t > 0]
    assert abs(trip - (np.mean(nz) if nz else 0.0)) < 1e-3 * max(1.0, trip)
