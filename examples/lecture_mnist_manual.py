"""The lecture's two code blocks (two-layer network, forward pass and backward pass) run as written.

Only the imports and the data set's creation are toynn's; every line between the markers is the
lecture's. Usage: python examples/lecture_mnist_manual.py PATH_TO_MNIST_FOLDER
"""

import sys

from toynn.data import MNIST, DatasetNotFoundError
from toynn.lecture.manual import toynn_CrossEntropyLoss, toynn_Linear, toynn_ReLU

USAGE = (
    "usage: python examples/lecture_mnist_manual.py MNIST_FOLDER\n"
    "  MNIST_FOLDER holds MNIST's four IDX files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz,\n"
    "  t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz), from https://ossci-datasets.s3.amazonaws.com/mnist/"
)
if len(sys.argv) != 2 or sys.argv[1] in ("-h", "--help"):
    print(USAGE, file=sys.stderr)
    sys.exit(2)
try:
    trainset = MNIST(sys.argv[1], train=True)
except DatasetNotFoundError as err:
    print(f"{err}\n{USAGE}", file=sys.stderr)
    sys.exit(2)

# fmt: off
# ---- the lecture: "Two-layer Neural Network – Forward Pass" ----
# Setup the input variable x.
img, label = trainset[0]
x = img.view(1, 1 * 28 * 28)

# Setup the number of inputs, hidden neurons, and outputs.
nInputs = 1 * 28 * 28
nHidden = 512
nOutputs = 10

# Create the model here.
linear_fn1 = toynn_Linear(nInputs, nHidden)
relu_fn = toynn_ReLU()
linear_fn2 = toynn_Linear(nHidden, nOutputs)

# Make predictions.
x = linear_fn1.forward(x)
x = relu_fn.forward(x)
x = linear_fn2.forward(x)

# Show the prediction scores for each class.
# Yes, pytorch tensors already come with a softmax function.
# We need it here because we hard-coded the softmax inside
# the loss function.
print(x.softmax(dim = 1))

# ---- the lecture: "Two-layer Neural Network – Backward Pass" ----
x = img.view(1, 1 * 28 * 28)  # (the lecture reuses x; the forward block above overwrote it)

# Create the model here.
linear_fn1 = toynn_Linear(nInputs, nHidden)
relu_fn = toynn_ReLU()
linear_fn2 = toynn_Linear(nHidden, nOutputs)
loss_fn = toynn_CrossEntropyLoss()

# Make predictions (forward pass).
a = linear_fn1.forward(x)
z = relu_fn.forward(a)
yhat = linear_fn2.forward(z)

# Compute loss.
loss = loss_fn.forward(yhat, label)
yhat_grads = loss_fn.backward(yhat, label)

# Compute gradients (backward pass).
z_grads = linear_fn2.backward(z, yhat_grads)
a_grads = relu_fn.backward(a, z_grads)
x_grads = linear_fn1.backward(x, a_grads)

# Update parameters:
learningRate = 0.2
linear_fn1.weight.add_(-learningRate, linear_fn1.weight_grads)
linear_fn1.bias.add_(-learningRate, linear_fn1.bias_grads)
linear_fn2.weight.add_(-learningRate, linear_fn2.weight_grads)
linear_fn2.bias.add_(-learningRate, linear_fn2.bias_grads)
# ---- end of the lecture's code ----
# fmt: on

after = loss_fn.forward(linear_fn2.forward(relu_fn.forward(linear_fn1.forward(x))), label)
print(f"label {label}: loss {loss.item():.4f} before the SGD step, {after.item():.4f} after")
