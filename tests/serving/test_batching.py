"""The serving batcher: requests decoded in one event-loop turn share one prediction, and a bad
request in a batch gets its own error while the others get their answers."""

import asyncio

import pytest

from pipelines.serving.batching import PredictionBatcher

from conftest import load_inference

inference = load_inference()


class CountingHandlers(object):
    """The real inference module, counting the batch calls."""

    def __init__(self):
        self.batch_sizes = []

    def predict_fn(self, input_data, model):
        return inference.predict_fn(input_data, model)

    def predict_batch_fn(self, inputs, model):
        self.batch_sizes.append(len(inputs))
        return inference.predict_batch_fn(inputs, model)


@pytest.fixture(scope="module")
def seed(seed_model):
    return inference.model_fn(str(seed_model["model"]))


def run_together(batcher, bodies):
    async def main():
        futures = [batcher.predict(inference.input_fn(body, "text/csv")) for body in bodies]
        return await asyncio.gather(*futures, return_exceptions=True)

    return asyncio.run(main())


def test_requests_of_one_turn_share_one_prediction(seed):
    handlers = CountingHandlers()
    bodies = ["%d,5,100000,2,1" % age for age in range(20, 60, 5)]
    results = run_together(PredictionBatcher(handlers, seed), bodies)
    assert handlers.batch_sizes == [len(bodies)]
    for body, result in zip(bodies, results):
        assert list(result) == list(
            inference.predict_fn(inference.input_fn(body, "text/csv"), seed)
        )


def test_a_bad_request_fails_alone(seed):
    handlers = CountingHandlers()
    bodies = ["40,5,100000,2,1", "40,5,100000,2,1\n41,5,lots,2,1", "30,1,10,1,0"]
    results = run_together(PredictionBatcher(handlers, seed), bodies)
    assert handlers.batch_sizes == [3]
    assert isinstance(results[1], inference.InferenceError)
    assert "record 2, column 'balance': 'lots'" in str(results[1])  # its own record number
    assert len(results[0]) == 1 and len(results[2]) == 1
    assert not isinstance(results[0], Exception) and not isinstance(results[2], Exception)


def test_a_request_alone_is_not_held_back(seed):
    handlers = CountingHandlers()
    results = run_together(PredictionBatcher(handlers, seed), ["40,5,100000,2,1"])
    assert handlers.batch_sizes == [] and len(results[0]) == 1  # predict_fn, no batch call
