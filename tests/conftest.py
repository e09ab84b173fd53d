import numpy as np
import pytest


@pytest.fixture
def three_colors():
    """4x4 RGB image of exactly 3 colours (8 black, 4 red, 4 blue)."""
    img = np.zeros((4, 4, 3), np.uint8)
    img[:, 2] = (255, 0, 0)
    img[:, 3] = (0, 0, 255)
    return img


@pytest.fixture
def gradient():
    """32x48 RGB image with many distinct colours (smooth ramps)."""
    y, x = np.mgrid[0:32, 0:48]
    img = np.stack([x * 5, y * 7, (x + y) * 3], axis=-1)
    return np.clip(img, 0, 255).astype(np.uint8)


@pytest.fixture(autouse=True, scope="session")
def _one_thread_per_test_process():
    """KMeans' OpenMP threads spin-wait: on a shared, loaded machine a tiny fit can take 30x
    longer with 2 threads than with 1. Tests fit tiny images, so one thread is also the fastest."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield
