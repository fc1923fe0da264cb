"""Golden values for Keel's Batch Renormalization and Ghost BN, computed by Keras 3 (JAX backend).

    KERAS_BACKEND=jax python3 test/golden/keras_renorm.py   # writes test/golden/keras_renorm.json

Nothing here comes from Keel: the fixture is what Keras computes, and test/normalization/renorm*.test.ts
and ghost*.test.ts compare Keel to it.

renorm: a keras.layers.BatchNormalization(renorm=True, ...) with fixed weights and fixed buffers runs a
few training steps. Each step calls the layer in training mode on a fixed batch x, with the loss
L = sum(g * y) for a fixed g, and records y, dL/dx, dL/dgamma, dL/dbeta (jax.grad through
layer.stateless_call) and every buffer after the step's update. gamma and beta are not trained (no
optimizer), so each step sees the same parameters and the buffers carry over.

ghost: Keras 3 has no virtual_batch_size, so the oracle is built from tf.keras 2's definition with
Keras 3 parts. tf.keras 2 reshapes a batch of B examples to [v, B/v, ...] and normalizes each [:, j]
(examples j, j + G, j + 2G, ... with G = B/v) as one batch. Here each such virtual batch goes through
its own Keras 3 BatchNormalization in training mode (momentum 0, so that its moving statistics after
the call are exactly that virtual batch's mean and variance), the outputs and gradients are put back
in place (dgamma and dbeta summed over virtual batches), and the moving statistics follow tf.keras's
rule in numpy: moving <- moving * momentum + mean_j(stat_j) * (1 - momentum), the average of the
virtual batches' means and the average of their variances.
"""
import json
import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402

assert keras.backend.backend() == "jax", "run with KERAS_BACKEND=jax"

HERE = os.path.dirname(os.path.abspath(__file__))


def f32(a):
    return np.asarray(a, dtype=np.float32)


def flat(a):
    return [float(v) for v in np.asarray(a, dtype=np.float64).ravel()]


def batch_with_moments(rng, shape, means, stds):
    """A batch whose per-feature (last axis) mean and std are exactly `means` and `stds`."""
    z = rng.standard_normal(shape)
    axes = tuple(range(len(shape) - 1))
    z = (z - z.mean(axis=axes)) / z.std(axis=axes)
    return f32(z * np.asarray(stds) + np.asarray(means))


def train_step(layer, tv, ntv, x, g):
    """One training call of `layer`: y, gradients of sum(g * y) and the updated buffers."""

    def loss(tv, x):
        y, new_ntv = layer.stateless_call(tv, ntv, x, training=True)
        return jnp.sum(y * g), (y, new_ntv)

    (dtv, dx), (y, new_ntv) = jax.grad(loss, argnums=(0, 1), has_aux=True)(tv, x)
    return y, dx, dtv, new_ntv


def renorm_case(name, shape, config, weights, steps, seed, means, stds):
    rng = np.random.default_rng(seed)
    layer = keras.layers.BatchNormalization(renorm=True, **config)
    layer.build((None,) + tuple(shape[1:]))
    names = [v.name for v in layer.weights]
    layer.set_weights([f32(weights[n]) for n in names])
    tv = [v.value for v in layer.trainable_variables]
    ntv = [v.value for v in layer.non_trainable_variables]
    trainable_names = [v.name for v in layer.trainable_variables]
    buffer_names = [v.name for v in layer.non_trainable_variables]
    out_steps = []
    for _ in range(steps):
        x = batch_with_moments(rng, shape, means, stds)
        g = f32(rng.standard_normal(shape))
        y, dx, dtv, ntv = train_step(layer, tv, ntv, jnp.asarray(x), jnp.asarray(g))
        out_steps.append({
            "x": flat(x), "dy": flat(g), "y": flat(y), "dx": flat(dx),
            "grads": {n: flat(d) for n, d in zip(trainable_names, dtv)},
            "buffers": {n: flat(v) for n, v in zip(buffer_names, ntv)},
        })
    return {
        "name": name, "shape": list(shape), "config": layer.get_config(),
        "weightNames": names, "initial": {n: flat(weights[n]) for n in names}, "steps": out_steps,
    }


def ghost_case(name, shape, vbs, momentum, epsilon, weights, steps, seed):
    rng = np.random.default_rng(seed)
    batch = shape[0]
    groups = batch // vbs
    gamma, beta = f32(weights["gamma"]), f32(weights["beta"])
    moving_mean = np.asarray(weights["moving_mean"], dtype=np.float64)
    moving_variance = np.asarray(weights["moving_variance"], dtype=np.float64)
    initial = {k: flat(v) for k, v in weights.items()}
    out_steps = []
    for _ in range(steps):
        x = f32(rng.standard_normal(shape) * 1.5 + 0.5)
        g = f32(rng.standard_normal(shape))
        # tf.keras 2: reshape to [v, G, ...]; virtual batch j is [:, j].
        xr = x.reshape((vbs, groups) + tuple(shape[1:]))
        gr = g.reshape((vbs, groups) + tuple(shape[1:]))
        y = np.zeros_like(xr)
        dx = np.zeros_like(xr)
        dgamma = np.zeros(shape[-1], dtype=np.float64)
        dbeta = np.zeros(shape[-1], dtype=np.float64)
        means, variances = [], []
        for j in range(groups):
            bn = keras.layers.BatchNormalization(momentum=0.0, epsilon=epsilon)
            bn.build((None,) + tuple(shape[1:]))
            bn.set_weights([gamma, beta, f32(moving_mean), f32(moving_variance)])
            tv = [v.value for v in bn.trainable_variables]
            ntv = [v.value for v in bn.non_trainable_variables]
            yj, dxj, dtv, new_ntv = train_step(bn, tv, ntv, jnp.asarray(xr[:, j]), jnp.asarray(gr[:, j]))
            y[:, j] = np.asarray(yj)
            dx[:, j] = np.asarray(dxj)
            dgamma += np.asarray(dtv[0], dtype=np.float64)
            dbeta += np.asarray(dtv[1], dtype=np.float64)
            # momentum 0: the moving statistics are now this virtual batch's mean and variance.
            means.append(np.asarray(new_ntv[0], dtype=np.float64))
            variances.append(np.asarray(new_ntv[1], dtype=np.float64))
        moving_mean = moving_mean * momentum + np.mean(means, axis=0) * (1 - momentum)
        moving_variance = moving_variance * momentum + np.mean(variances, axis=0) * (1 - momentum)
        out_steps.append({
            "x": flat(x), "dy": flat(g), "y": flat(y.reshape(shape)), "dx": flat(dx.reshape(shape)),
            "grads": {"gamma": flat(dgamma), "beta": flat(dbeta)},
            "buffers": {"moving_mean": flat(moving_mean), "moving_variance": flat(moving_variance)},
        })
    return {
        "name": name, "shape": list(shape), "virtualBatchSize": vbs, "momentum": momentum, "epsilon": epsilon,
        "initial": initial, "steps": out_steps,
    }


renorm = [
    # Clipping active for some features and not others: f0 clips r at rmax and d at -dmax, f1 r at
    # rmin and d at dmax, f2 clips nothing, f3 only d (first step; the renorm statistics then move).
    renorm_case(
        "clipped_mixed_rank2", [6, 4],
        {"momentum": 0.8, "epsilon": 1e-3, "renorm_momentum": 0.7, "renorm_clipping": {"rmax": 1.5, "rmin": 0.5, "dmax": 0.4}},
        {
            "gamma": [1.2, 0.7, -0.5, 2.0], "beta": [0.1, -0.3, 0.5, 0.0],
            "moving_mean": [0.2, -0.1, 0.3, 0.0], "moving_variance": [1.5, 0.5, 2.0, 1.0],
            "moving_stddev": [1.3, 0.8, 1.2, 1.1], "renorm_mean": [0.5, -1.0, 0.0, 2.0], "renorm_stddev": [0.3, 3.0, 1.0, 0.8],
        },
        steps=3, seed=1, means=[0.0, 1.0, 0.1, 2.5], stds=[1.0, 1.0, 1.1, 0.9],
    ),
    # No clipping (Keras's default {}), NHWC.
    renorm_case(
        "unclipped_rank4", [3, 2, 2, 2],
        {"momentum": 0.99, "epsilon": 1e-3, "renorm_momentum": 0.9},
        {
            "gamma": [0.9, 1.4], "beta": [-0.2, 0.3], "moving_mean": [0.1, -0.4], "moving_variance": [0.8, 1.7],
            "moving_stddev": [0.9, 1.2], "renorm_mean": [0.3, -0.2], "renorm_stddev": [1.4, 0.6],
        },
        steps=2, seed=2, means=[0.5, -0.5], stds=[1.2, 0.7],
    ),
    # No gamma, no beta; rmin missing (no lower bound).
    renorm_case(
        "no_scale_center_rank2", [5, 3],
        {"momentum": 0.9, "epsilon": 1e-2, "renorm_momentum": 0.5, "scale": False, "center": False,
         "renorm_clipping": {"rmax": 2.0, "dmax": 0.5}},
        {
            "moving_mean": [0.0, 0.5, -0.5], "moving_variance": [1.0, 2.0, 0.5],
            "moving_stddev": [1.0, 1.5, 0.7], "renorm_mean": [0.2, 0.4, -1.5], "renorm_stddev": [0.4, 1.0, 2.5],
        },
        steps=2, seed=3, means=[0.1, 0.6, -0.2], stds=[1.0, 1.3, 0.8],
    ),
]

ghost = [
    ghost_case("ghost_rank2", [8, 3], vbs=4, momentum=0.9, epsilon=1e-3,
               weights={"gamma": [1.1, 0.6, -0.8], "beta": [0.2, 0.0, -0.4],
                        "moving_mean": [0.1, 0.2, 0.3], "moving_variance": [1.0, 0.7, 1.3]},
               steps=2, seed=4),
    ghost_case("ghost_rank4", [6, 2, 2, 3], vbs=2, momentum=0.5, epsilon=1e-3,
               weights={"gamma": [0.7, 1.3, 1.0], "beta": [0.0, 0.5, -0.1],
                        "moving_mean": [0.0, -0.2, 0.4], "moving_variance": [1.2, 0.9, 1.0]},
               steps=2, seed=5),
]

fixture = {"keras": keras.__version__, "backend": keras.backend.backend(), "jax": jax.__version__,
           "renorm": renorm, "ghost": ghost}
with open(os.path.join(HERE, "keras_renorm.json"), "w") as f:
    json.dump(fixture, f, indent=None, separators=(",", ":"))
    f.write("\n")
print("wrote", os.path.join(HERE, "keras_renorm.json"))
