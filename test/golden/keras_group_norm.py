"""Golden values of Keras 3's GroupNormalization (JAX backend, float64) for Keel's tests.

For each case: inputs x, weights gamma and beta, and an upstream gradient r, all drawn here with a
fixed seed; Keras computes y = layer(x) and, with jax.grad of L = sum(r * y), dL/dx, dL/dgamma and
dL/dbeta. Everything is written to keras_group_norm.json beside this script, with Keras's version,
each layer's get_config() and count_params(). Keel never produces these numbers: the test reads
them and compares Keel with them.

The layers are float64 and so are the stored inputs, but Keras 3 normalizes in
backend.result_type(dtype, "float32"), which is float32 even for float64 (recorded as
compute_dtype): the golden values carry float32 rounding, about 1e-7 relative.

Run from the repository root (Keras 3 and JAX installed):
    KERAS_BACKEND=jax python3 test/golden/keras_group_norm.py
"""
import json
import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402

assert keras.backend.backend() == "jax", "run with KERAS_BACKEND=jax"

# (name, input shape with batch, layer options). Offsets and scales make the statistics non-trivial.
CASES = [
    ("dense groups 3", [4, 12], dict(groups=3)),
    ("dense groups 1", [3, 10], dict(groups=1)),
    ("dense groups 6, 2 per group", [3, 12], dict(groups=6)),
    ("dense groups 4, no center", [2, 8], dict(groups=4, center=False)),
    ("dense groups 2, no scale, epsilon 1e-5", [3, 6], dict(groups=2, scale=False, epsilon=1e-5)),
    ("images groups 2", [2, 3, 4, 6], dict(groups=2)),
    ("images groups -1 (instance norm)", [2, 3, 2, 5], dict(groups=-1)),
    ("images groups 1", [2, 2, 3, 4], dict(groups=1)),
    ("images groups 3, neither center nor scale", [2, 3, 3, 6], dict(groups=3, center=False, scale=False)),
    ("1x1 images groups 2", [3, 1, 1, 8], dict(groups=2)),
    ("images groups -1, one channel", [2, 4, 3, 1], dict(groups=-1)),
    ("sequences groups 3", [2, 5, 9], dict(groups=3)),
]


def run(name, shape, options, rng):
    layer = keras.layers.GroupNormalization(dtype="float64", **options)
    layer.build(tuple([None] + shape[1:]))
    x = rng.normal(size=shape) * 2.5 + 1.5
    r = rng.normal(size=shape)
    channels = shape[-1]
    weights = {}
    if layer.scale:
        weights["gamma"] = rng.uniform(0.5, 2.0, size=channels)
    if layer.center:
        weights["beta"] = rng.normal(size=channels)
    for v in layer.trainable_variables:
        v.assign(weights[v.name])
    names = [v.name for v in layer.trainable_variables]

    def loss(x, trainable):
        y, _ = layer.stateless_call(trainable, [], x)
        return jnp.sum(jnp.asarray(r) * y), y

    trainable = [jnp.asarray(weights[n]) for n in names]
    (value, y), (dx, dweights) = jax.value_and_grad(loss, argnums=(0, 1), has_aux=True)(jnp.asarray(x), trainable)
    grads = dict(zip(names, dweights))
    flat = lambda a: [float(v) for v in np.asarray(a).reshape(-1)]
    return {
        "name": name,
        "shape": shape,
        "options": options,
        "keras_config": layer.get_config(),
        "count_params": int(layer.count_params()),
        "x": flat(x),
        "r": flat(r),
        "gamma": flat(weights["gamma"]) if "gamma" in weights else None,
        "beta": flat(weights["beta"]) if "beta" in weights else None,
        "y": flat(y),
        "loss": float(value),
        "dx": flat(dx),
        "dgamma": flat(grads["gamma"]) if "gamma" in grads else None,
        "dbeta": flat(grads["beta"]) if "beta" in grads else None,
    }


def main():
    rng = np.random.default_rng(20240611)
    fixture = {
        "generator": "test/golden/keras_group_norm.py",
        "keras": keras.__version__,
        "jax": jax.__version__,
        "backend": keras.backend.backend(),
        "dtype": "float64",
        "compute_dtype": str(keras.src.backend.result_type("float64", "float32")),
        "cases": [run(name, shape, options, rng) for name, shape, options in CASES],
    }
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "keras_group_norm.json")
    with open(out, "w") as f:
        json.dump(fixture, f, indent=1)
        f.write("\n")
    print(f"wrote {out}: {len(fixture['cases'])} cases")


if __name__ == "__main__":
    main()
