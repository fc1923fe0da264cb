"""Keras 3 (JAX backend) side of the .keras tests: load a file Keel wrote and run it, or build,
train one step and save a model for Keel to load. Arrays are raw little-endian float32 files."""
import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")
import numpy as np  # noqa: E402
import keras  # noqa: E402


def read(path, shape):
    return np.fromfile(path, dtype="<f4").reshape(shape)


def write(path, array):
    np.asarray(array, dtype="<f4").tofile(path)


def describe(model):
    layers = []
    for layer in model.layers:
        entry = {"name": layer.name, "class": layer.__class__.__name__, "trainable": layer.trainable,
                 "weights": [list(w.shape) for w in layer.weights]}
        for key in ("momentum", "epsilon", "renorm", "center", "scale", "groups"):
            if hasattr(layer, key):
                entry[key] = getattr(layer, key)
        layers.append(entry)
    return layers


def run(model_path, inputs, shape, out, info, train_out=None, stats=None):
    """`inputs` is one file of `shape`, or a list of [file, shape] pairs for a model of several inputs."""
    model = keras.saving.load_model(model_path)
    x = read(inputs, shape) if isinstance(inputs, str) else [read(path, s) for path, s in inputs]
    write(out, model.predict(x, verbose=0))
    with open(info, "w") as f:
        json.dump({"layers": describe(model), "keras_version": keras.__version__}, f)
    if train_out:
        # One forward in training mode: BN uses the batch statistics and updates its moving ones.
        write(train_out, model(x, training=True))
        moving = {layer.name: {"moving_mean": np.asarray(layer.moving_mean).tolist(),
                               "moving_variance": np.asarray(layer.moving_variance).tolist()}
                  for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)}
        with open(stats, "w") as f:
            json.dump(moving, f)


def make(model_path, inputs, shape, out, info):
    """A small CNN with BN, a frozen BN with Keras's non-default momentum and epsilon, one step of training."""
    keras.utils.set_random_seed(7)
    model = keras.Sequential([
        keras.Input((12, 12)),
        keras.layers.Reshape((12, 12, 1)),
        keras.layers.Conv2D(6, 3, padding="same", use_bias=False),
        keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-2),
        keras.layers.Activation("relu"),
        keras.layers.DepthwiseConv2D(3, depth_multiplier=2),
        keras.layers.BatchNormalization(center=False),
        keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(8, 3, activation="relu"),
        keras.layers.GroupNormalization(groups=4),
        keras.layers.AveragePooling2D(2, padding="same"),
        keras.layers.Flatten(),
        keras.layers.Dense(16, use_bias=False),
        keras.layers.BatchNormalization(),
        keras.layers.Activation("silu"),
        keras.layers.LayerNormalization(epsilon=1e-5),
        keras.layers.Dropout(0.2),
        keras.layers.Dense(5, activation="softmax"),
    ], name="keras_cnn")
    model.layers[5].trainable = False  # the BN without center: frozen, still in the file's weights
    model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9), loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(3)
    xs = rng.random((32, 12, 12), dtype=np.float32)
    ys = rng.integers(0, 5, 32)
    model.fit(xs, ys, batch_size=32, epochs=1, verbose=0)
    model.save(model_path)
    x = read(inputs, shape)
    write(out, model.predict(x, verbose=0))
    with open(info, "w") as f:
        json.dump({"layers": describe(model), "keras_version": keras.__version__}, f)


def make_functional(model_path, inputs, out, info):
    """A two-input residual CNN with BN (Add, Concatenate, Multiply, Average), one BN frozen, one step of training."""
    keras.utils.set_random_seed(8)
    image = keras.Input((10, 10, 2), name="image")
    extra = keras.Input((4,), name="extra")
    x = keras.layers.Conv2D(4, 3, padding="same", use_bias=False)(image)
    x = keras.layers.BatchNormalization(momentum=0.9)(x)
    x = keras.layers.Activation("relu")(x)
    y = keras.layers.Conv2D(4, 1, use_bias=False)(image)
    y = keras.layers.BatchNormalization(epsilon=1e-2)(y)
    x = keras.layers.Add()([x, y])
    x = keras.layers.GlobalAveragePooling2D()(x)
    e = keras.layers.Dense(4, activation="tanh")(extra)
    m = keras.layers.Multiply()([x, e])
    a = keras.layers.Average()([x, m])
    c = keras.layers.Concatenate()([a, e])
    c = keras.layers.BatchNormalization()(c)
    output = keras.layers.Dense(3, activation="softmax")(c)
    model = keras.Model([image, extra], output, name="two_inputs")
    model.get_layer("batch_normalization_1").trainable = False
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(5)
    model.fit([rng.random((16, 10, 10, 2), dtype=np.float32), rng.random((16, 4), dtype=np.float32)], rng.integers(0, 3, 16),
              batch_size=16, epochs=1, verbose=0)
    model.save(model_path)
    x = [read(path, s) for path, s in inputs]
    write(out, model.predict(x, verbose=0))
    with open(info, "w") as f:
        json.dump({"layers": describe(model), "keras_version": keras.__version__}, f)


def data_parallel_bn():
    """BN's batch statistics under DataParallel on two devices: over the global batch, or per device?
    Device 0 gets rows of 0, device 1 rows of 2: the global batch has mean 1 and variance 1, each
    device's half variance 0. Prints the moving statistics after one step with momentum 0.5."""
    import jax
    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=jax.devices()))
    model = keras.Sequential([keras.Input((3,)), keras.layers.BatchNormalization(momentum=0.5), keras.layers.Dense(2)])
    model.compile(keras.optimizers.SGD(0.0), "mse")
    x = np.concatenate([np.zeros((4, 3)), np.full((4, 3), 2.0)]).astype("float32")
    model.fit(x, np.zeros((8, 2), "float32"), batch_size=8, epochs=1, shuffle=False, verbose=0)
    bn = model.layers[0]
    print(json.dumps({"devices": len(jax.devices()), "moving_mean": np.asarray(bn.moving_mean).tolist(),
                      "moving_variance": np.asarray(bn.moving_variance).tolist()}))


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    if command == "run":
        # One process for several models: importing Keras and JAX is most of the time.
        with open(args[0]) as f:
            for job in json.load(f):
                if job.get("make") == "functional":
                    make_functional(job["model"], job["inputs"], job["out"], job["info"])
                else:
                    run(job["model"], job["inputs"], job.get("shape"), job["out"], job["info"], job.get("train_out"), job.get("stats"))
    elif command == "make":
        path, inputs, shape, out, info = args
        make(path, inputs, [int(d) for d in shape.split(",")], out, info)
    elif command == "make-functional":
        path, inputs, out, info = args
        make_functional(path, json.loads(inputs), out, info)
    elif command == "data-parallel-bn":
        data_parallel_bn()
    else:
        sys.exit(f"unknown command {command}")
