"""K sharded over 4 (fake CPU) devices, with the states on a second mesh axis: the same states
and the same capacities as one device."""

import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import jax, jax.numpy as jnp, numpy as np
    import damjax as dj
    from damjax import capacity as cap
    from damjax.patterns import flip

    assert jax.local_device_count() == 4, jax.devices()
    cases = [(dj.Polynomial(3), "stored", m) for m in ((1, 4), (2, 2))]
    cases += [(dj.Polynomial(3), "regenerated", (2, 2)), (dj.Polynomial(30), "regenerated", (1, 4))]
    for F, kind, (batch, k) in cases:
        src = cap.RandomPatterns(jax.random.key(0), 700, 64, block_size=64)
        src = src.stored() if kind == "stored" else src
        model = cap.BlockedDAM(src, F, num_active=555)
        cues = flip(jax.random.key(1), src.rows(jnp.arange(32)), 0.15)
        mesh = cap.kshard_mesh(k, batch_devices=batch)
        one = model.batch_update(cues)
        assert np.array_equal(one, cap.kshard_update(model, cues, mesh)), (F, kind, batch)
        for _ in range(5):  # six synchronous steps of the dynamics in all
            one = model.batch_update(one)
        assert np.array_equal(one, cap.kshard_update(model, cues, mesh, steps=6)), (F, kind)
        assert not np.array_equal(one, cues)  # the dynamics moved
    mesh = cap.kshard_mesh(2, batch_devices=2)
    for seed in range(2):
        src = cap.RandomPatterns(jax.random.key(seed), 300, 50, block_size=32)
        for s in (src, src.stored()):
            got = cap.kshard_no_error_capacity(dj.Polynomial(3), s, mesh, chunk=16)
            ref = int(cap.no_error_capacity(dj.Polynomial(3), patterns=s, block_size=32)[0])
            assert got == ref, (seed, got, ref)
    print("OK")
    """
)


def test_k_sharded_equals_single_device():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4")
    r = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=600
    )
    assert r.returncode == 0 and "OK" in r.stdout, r.stderr[-3000:]


DIST = textwrap.dedent(
    """
    import sys, jax
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address="localhost:" + sys.argv[2], num_processes=2,
                               process_id=int(sys.argv[1]))
    import jax.numpy as jnp, numpy as np
    import damjax as dj
    from damjax import capacity as cap
    from damjax.patterns import flip
    from jax.experimental import multihost_utils
    assert jax.device_count() == 4 and jax.local_device_count() == 2, jax.devices()
    for kind in ("stored", "regenerated"):
        src = cap.RandomPatterns(jax.random.key(0), 700, 64, block_size=64)
        src = src.stored() if kind == "stored" else src
        model = cap.BlockedDAM(src, dj.Polynomial(3), num_active=555)
        cues = flip(jax.random.key(1), src.rows(jnp.arange(32)), 0.15)
        out = cap.kshard_update(model, cues, cap.kshard_mesh(2, batch_devices=2), steps=3)
        full = np.asarray(multihost_utils.process_allgather(out, tiled=True))
        one = cues
        for _ in range(3):
            one = model.batch_update(one)
        assert np.array_equal(full, np.asarray(one)), kind
    print("OK", jax.process_index())
    """
)


def test_k_sharded_under_jax_distributed_two_processes():
    import socket

    with socket.socket() as s:
        s.bind(("localhost", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2")
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", DIST, str(i), str(port)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    for i, p in enumerate(procs):
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0 and f"OK {i}" in out, err[-3000:]


SAMPLED = textwrap.dedent(
    """
    import jax, numpy as np
    import damjax as dj
    from damjax import capacity as cap

    assert jax.local_device_count() == 4, jax.devices()
    cases = [
        ("stored", dj.Polynomial(3), dict(k_min=30), ((1, 4), (2, 2))),
        ("regenerated", dj.RectifiedPolynomial(3), dict(k_min=30), ((2, 2),)),
        ("stored", dj.Polynomial(3), dict(rho=0.1, k_min=20, num_probes=96, halfwidth=0.1),
         ((2, 2),)),
        ("regenerated", dj.Polynomial(3),
         dict(starts="random", k_min=2, num_probes=96, halfwidth=0.1), ((1, 4),)),
    ]
    for kind, F, kw, meshes in cases:
        src = cap.RandomPatterns(jax.random.key(0), 700, 64, block_size=32)
        src = src.stored() if kind == "stored" else src
        ref = cap.sampled_k_half(F, key=jax.random.key(5), patterns=src, **kw)
        for batch, k in meshes:
            mesh = cap.kshard_mesh(k, batch_devices=batch)
            got = cap.kshard_sampled_k_half(F, src, mesh, key=jax.random.key(5), **kw)
            for f in ("k_half", "lower", "upper", "evaluations"):
                assert np.array_equal(getattr(got, f), getattr(ref, f)), (kind, kw, f, got, ref)
            assert (got.resolution, got.num_probes) == (ref.resolution, ref.num_probes)
            assert int(ref.lower[0]) <= int(ref.k_half[0]) < int(ref.upper[0])
    print("OK")
    """
)


def test_sampled_k_half_k_sharded_equals_single_device():
    """Same probes, same K_1/2 and interval: the one-pass curve (rho = 0 cues, power and
    rectified F), the bisection with rho = 0.1 cues and with random starts (Sync)."""
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4")
    r = subprocess.run(
        [sys.executable, "-c", SAMPLED], env=env, capture_output=True, text=True, timeout=600
    )
    assert r.returncode == 0 and "OK" in r.stdout, r.stderr[-3000:]
