import math
import os

import torch

# "Learning PyTorch with examples": fit y = sin(x) by a cubic, three ways, each updating the weights by hand.
#  1. raw tensors with requires_grad, the update under torch.no_grad() and grad.zero_()
#  2. the old (pre-0.4) forms still seen in course notebooks: p.data.add_(-lr, p.grad) and p.data -= lr * p.grad.data
#  3. nn.Sequential with nn.MSELoss(reduction="sum") and `for param in model.parameters(): param -= lr * param.grad`
# Every start is fixed (zeros, or init.pth for the model), so both runs must follow the same path.

dtype = torch.float
x = torch.linspace(-math.pi, math.pi, 2000, dtype=dtype)
y = torch.sin(x)

a = torch.zeros((), dtype=dtype, requires_grad=True)
b = torch.zeros((), dtype=dtype, requires_grad=True)
c = torch.zeros((), dtype=dtype, requires_grad=True)
d = torch.zeros((), dtype=dtype, requires_grad=True)

learning_rate = 1e-6
for t in range(400):
    y_pred = a + b * x + c * x ** 2 + d * x ** 3
    loss = (y_pred - y).pow(2).sum()
    if t % 100 == 99:
        print(t, loss.item())
    loss.backward()
    with torch.no_grad():
        a -= learning_rate * a.grad
        b -= learning_rate * b.grad
        c -= learning_rate * c.grad
        d -= learning_rate * d.grad
        a.grad.zero_()
        b.grad.zero_()
        c.grad.zero_()
        d.grad.zero_()
print(f"Result: y = {a.item():.6f} + {b.item():.6f} x + {c.item():.6f} x^2 + {d.item():.6f} x^3")

# the old forms: p.data.add_(-lr, p.grad) (deprecated signature, still accepted) and p.data -= lr * p.grad.data
coeffs = [torch.zeros(1, requires_grad=True) for _ in range(4)]
for t in range(200):
    y_pred = coeffs[0] + coeffs[1] * x + coeffs[2] * x ** 2 + coeffs[3] * x ** 3
    loss = (y_pred - y).pow(2).mean()
    for p in coeffs:
        if p.grad is not None:
            p.grad.data.zero_()
    loss.backward()
    for k, p in enumerate(coeffs):
        if t % 2 == 0:
            p.data.add_(-0.004, p.grad)
        else:
            p.data -= 0.004 * p.grad.data
    if t % 50 == 49:
        print(f"old-style step {t + 1}: loss {loss.data.item():.6f}")
print("old-style coefficients:", [round(p.item(), 5) for p in coeffs])

# nn.Sequential: the features (x, x^2, x^3), a Linear(3, 1) and a flatten
p = torch.tensor([1, 2, 3])
xx = x.unsqueeze(-1).pow(p)
model = torch.nn.Sequential(
    torch.nn.Linear(3, 1),
    torch.nn.Flatten(0, 1)
)
if os.path.exists("init.pth"):
    model.load_state_dict(torch.load("init.pth", weights_only=True))
else:
    torch.save(model.state_dict(), "init.pth")
loss_fn = torch.nn.MSELoss(reduction='sum')

learning_rate = 1e-6
for t in range(400):
    y_pred = model(xx)
    loss = loss_fn(y_pred, y)
    if t % 100 == 99:
        print(t, loss.item())
    model.zero_grad()
    loss.backward()
    with torch.no_grad():
        for param in model.parameters():
            param -= learning_rate * param.grad

linear_layer = model[0]
print(f'Result: y = {linear_layer.bias.item():.6f} + {linear_layer.weight[:, 0].item():.6f} x + '
      f'{linear_layer.weight[:, 1].item():.6f} x^2 + {linear_layer.weight[:, 2].item():.6f} x^3')
