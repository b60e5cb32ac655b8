"""SAIL, the saibench language: everything a plugin author imports, and nothing else.

It imports neither JAX, Z3 nor saibench_core, so describing modules stays cheap.
"""

from ._concepts import TASKS as TASKS
from ._concepts import Classify as Classify
from ._concepts import Dataset as Dataset
from ._concepts import Denoise as Denoise
from ._concepts import Device as Device
from ._concepts import Evaluation as Evaluation
from ._concepts import Fixture as Fixture
from ._concepts import Forecast as Forecast
from ._concepts import Input as Input
from ._concepts import Predict as Predict
from ._concepts import Regress as Regress
from ._concepts import Runtime as Runtime
from ._concepts import Segment as Segment
from ._concepts import Task as Task
from ._concepts import Test as Test
from ._concepts import Train as Train
from ._concepts import Training as Training
from ._errors import Fail as Fail
from ._errors import InvalidSignature as InvalidSignature
from ._errors import SaibenchError as SaibenchError
from ._hooks import hookimpl as hookimpl
from ._modules import MODULE_KINDS as MODULE_KINDS
from ._modules import ModuleSpec as ModuleSpec
from ._modules import converter as converter
from ._modules import hardware as hardware
from ._modules import metric as metric
from ._modules import model as model
from ._modules import problem as problem
from ._modules import ranking as ranking
from ._modules import software as software
from ._modules import trainer as trainer
from ._nn import Gelu as Gelu
from ._nn import Layer as Layer
from ._nn import Linear as Linear
from ._nn import Pipeline as Pipeline
from ._nn import Relu as Relu
from ._nn import Softmax as Softmax
from ._nn import Tanh as Tanh
from ._suggest import Suggest as Suggest
from ._suggest import Suggestion as Suggestion
from ._types import Atoms as Atoms
from ._types import Dim as Dim
from ._types import Image as Image
from ._types import Label as Label
from ._types import SailType as SailType
from ._types import Scalar as Scalar
from ._types import Sequence as Sequence
from ._types import Set as Set
from ._types import Tensor as Tensor
from ._types import TimeSeries as TimeSeries
from ._types import dim_symbols as dim_symbols
from ._types import evaluate_dim as evaluate_dim
