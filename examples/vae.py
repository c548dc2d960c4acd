"""The variational autoencoder of Deutel et al. (MCSoC 2025) and its classifier, as odtc
builder models: encoder 2 conv + FC, latent size 10, decoder FC + 2 conv-transpose;
classifier 2 FC layers of 400 neurons on the encoder's mean.

Two-phase workflow (README "Unsupervised training of a VAE"):

    odtc compile examples/vae.py:vae --config examples/vae.toml -o build/vae
    odtc train build/vae --data mnist                       # phase 1: no labels are read
    odtc compile examples/vae.py:classifier --config examples/vae_head.toml \\
        --init build/vae/trained.npz -o build/vae_head     # encoder frozen: its backward is pruned
    odtc train build/vae_head --data mnist --labels-per-class 10

The encoder's parameter names are the same in both models, so `--init` carries the trained
encoder into the classifier. Channel counts are chosen for memory (the paper's exact widths
are not published): 58,197 parameters, 232.8 kB in fp32.
"""

from pathlib import Path

import numpy as np

from odtc.compiler.builder import GraphBuilder

LATENT = 10
INPUT_SHAPE = (1, 1, 28, 28)


def _encoder(b: GraphBuilder, with_logvar: bool):
    h = b.relu(b.conv2d(b.input, 16, kernel=3, stride=2, padding=1, name="enc.conv1"))  # 16x14x14
    h = b.relu(b.conv2d(h, 32, kernel=3, stride=2, padding=1, name="enc.conv2"))  # 32x7x7
    h = b.flatten(h)
    mu = b.dense(h, LATENT, name="enc.mu")
    logvar = b.dense(h, LATENT, name="enc.logvar") if with_logvar else None
    return mu, logvar


def vae(seed: int = 0):
    """Returns the reconstruction sigmoid(decoder(z)); train with loss `elbo`."""
    b = GraphBuilder(INPUT_SHAPE, seed=seed)
    mu, logvar = _encoder(b, with_logvar=True)
    z = b.reparameterize(mu, logvar, seed=seed)
    h = b.relu(b.dense(z, 32 * 7 * 7, name="dec.fc"))
    h = b.reshape(h, (1, 32, 7, 7))
    h = b.relu(b.conv_transpose2d(h, 16, kernel=3, stride=2, padding=1, output_padding=1, name="dec.deconv1"))
    logits = b.conv_transpose2d(h, 1, kernel=3, stride=2, padding=1, output_padding=1, name="dec.deconv2")
    return b.build(b.sigmoid(logits))


def decoder(seed: int = 0):
    """The decoder alone, z [1, LATENT] -> image (for sampling from the prior)."""
    b = GraphBuilder((1, LATENT), seed=seed, input_name="z")
    h = b.relu(b.dense(b.input, 32 * 7 * 7, name="dec.fc"))
    h = b.reshape(h, (1, 32, 7, 7))
    h = b.relu(b.conv_transpose2d(h, 16, kernel=3, stride=2, padding=1, output_padding=1, name="dec.deconv1"))
    logits = b.conv_transpose2d(h, 1, kernel=3, stride=2, padding=1, output_padding=1, name="dec.deconv2")
    return b.build(b.sigmoid(logits))


def classifier(seed: int = 0):
    """Encoder mean -> FC 400 -> ReLU -> FC 10 (logits); train with the encoder frozen."""
    b = GraphBuilder(INPUT_SHAPE, seed=seed)
    mu, _ = _encoder(b, with_logvar=False)
    h = b.relu(b.dense(mu, 400, name="head.fc1"))
    return b.build(b.dense(h, 10, name="head.fc2"))


def write_grid(weights: dict[str, np.ndarray], originals: np.ndarray, reconstructions: np.ndarray, path: Path,
               samples: int = 20, seed: int = 0) -> None:
    """A PNG to look at what the device learned. Row 1: the images; row 2: their
    reconstructions (from the trained C's odtc_infer, z = mu); the rows below: decoder(z)
    for z ~ N(0, I), decoded by the reference interpreter with the trained decoder weights."""
    from odtc.compiler.png import grid, write_png
    from odtc.runtime.interpreter import init_state, run_function

    dec = decoder()
    state = init_state(dec)
    for name in state:
        if name in weights:
            state[name] = np.asarray(weights[name], dtype=np.float32)
    rng = np.random.default_rng(seed)
    drawn = [run_function(dec, "forward", [rng.standard_normal((1, LATENT)).astype(np.float32)], state)[0]
             for _ in range(samples)]
    imgs = np.concatenate([np.reshape(originals, (-1, 28, 28)), np.reshape(reconstructions, (-1, 28, 28)),
                           np.reshape(drawn, (-1, 28, 28))])
    write_png(path, grid(imgs, columns=max(10, len(originals))))
