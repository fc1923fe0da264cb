"""Keras 3 side of the scale-out example: continue training a .keras file that Keel wrote, data
parallel over every JAX device, then save it for Keel. On one machine,
XLA_FLAGS=--xla_force_host_platform_device_count=2 makes two CPU devices stand in for two machines;
on a cluster, call jax.distributed.initialize() first and the same code spans all their devices.

    python3 continue_training.py IN.keras OUT.keras DATA_DIR [EPOCHS] [BATCH]
"""
import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=2")
import jax  # noqa: E402
import numpy as np  # noqa: E402
import keras  # noqa: E402

source, destination, data = sys.argv[1:4]
epochs = int(sys.argv[4]) if len(sys.argv) > 4 else 1
batch_size = int(sys.argv[5]) if len(sys.argv) > 5 else 64

# Before the model exists: its variables are then created replicated on every device, and each
# batch is split along its first axis between them.
devices = jax.devices()
keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))

model = keras.saving.load_model(source)
model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01, momentum=0.9),
              loss="sparse_categorical_crossentropy", metrics=["accuracy"])
x = np.fromfile(os.path.join(data, "train-x.f32"), dtype="<f4").reshape(-1, 28, 28)
y = np.fromfile(os.path.join(data, "train-y.i32"), dtype="<i4")
history = model.fit(x, y, batch_size=batch_size, epochs=epochs, shuffle=True, verbose=0)
model.save(destination)

x_test = np.fromfile(os.path.join(data, "test-x.f32"), dtype="<f4").reshape(-1, 28, 28)
model.predict(x_test, batch_size=batch_size, verbose=0).astype("<f4").tofile(os.path.join(data, "keras-test-predictions.f32"))
print(json.dumps({"devices": [str(d) for d in devices], "loss": history.history["loss"][-1],
                  "accuracy": history.history["accuracy"][-1]}))
