"""Plugin nodes shipped with nndeploy-jupyter, loaded into every worker like the files in resources/plugin/.

``nndeploy_jupyter.demo.Posterize`` is the node behind the built-in "Posterize (plugin node)" template, and the
model to copy when writing your own: a ``nndeploy.dag.Node`` subclass, its creator, and ``register_node``.
"""

import json

import nndeploy.base
import nndeploy.dag
import numpy as np

KEY = "nndeploy_jupyter.demo.Posterize"


class Posterize(nndeploy.dag.Node):
    """Reduce each colour channel to ``levels`` values: a poster-like look (ndarray in, ndarray out)."""

    def __init__(self, name, inputs=None, outputs=None):
        super().__init__(name, inputs, outputs)
        self.set_key(KEY)
        self.set_desc("Posterize an image: keep `levels` values per colour channel")
        self.set_input_type(np.ndarray)
        self.set_output_type(np.ndarray)
        self.levels = 4

    def run(self):
        image = self.get_input(0).get(self)
        if image is None:
            return nndeploy.base.Status(nndeploy.base.StatusCode.ErrorInvalidValue)
        step = 256 // max(2, min(int(self.levels), 256))
        self.get_output(0).set(((image // step) * step + step // 2).astype(np.uint8))
        return nndeploy.base.Status.ok()

    def serialize(self):
        node = json.loads(super().serialize())
        node["levels"] = self.levels
        return json.dumps(node)

    def deserialize(self, target):
        self.levels = json.loads(target).get("levels", 4)
        return super().deserialize(target)


class PosterizeCreator(nndeploy.dag.NodeCreator):
    def create_node(self, name, inputs, outputs):
        self.node = Posterize(name, inputs, outputs)
        return self.node


posterize_creator = PosterizeCreator()
nndeploy.dag.register_node(KEY, posterize_creator)
