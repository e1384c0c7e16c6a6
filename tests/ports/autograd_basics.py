import torch
import torch.nn.functional as F

# The autograd tutorial's ideas: a one-layer net's gradients, requires_grad, grad_fn, no_grad and detach,
# vector-Jacobian products with retain_graph and accumulation, torch.autograd.grad, retain_grad and leaves,
# second derivatives with create_graph=True, and a leaf updated in place under no_grad.
# All inputs are fixed numbers, so both runs must print the same values.

x = torch.ones(5)  # input tensor
y = torch.zeros(3)  # expected output
w = torch.linspace(-1, 1, 15).reshape(5, 3).requires_grad_()
b = torch.tensor([0.1, -0.2, 0.3], requires_grad=True)
z = torch.matmul(x, w) + b
loss = F.binary_cross_entropy_with_logits(z, y)

print(f"Gradient function for z = {z.grad_fn}")
print(f"Gradient function for loss = {loss.grad_fn}")
print("z has a grad_fn:", z.grad_fn is not None, "| w is a leaf:", w.is_leaf, "| z is a leaf:", z.is_leaf)

loss.backward()
print(w.grad)
print(b.grad)
print(f"loss = {loss.item():.6f}")

z = torch.matmul(x, w) + b
print(z.requires_grad)
with torch.no_grad():
    z = torch.matmul(x, w) + b
print(z.requires_grad)

z = torch.matmul(x, w) + b
z_det = z.detach()
print(z_det.requires_grad)

# vector-Jacobian products: backward of a non-scalar output takes the vector v
inp = torch.eye(4, 5, requires_grad=True)
out = (inp + 1).pow(2).t()
out.backward(torch.ones_like(out), retain_graph=True)
print(f"First call\n{inp.grad}")
out.backward(torch.ones_like(out), retain_graph=True)
print(f"\nSecond call\n{inp.grad}")
inp.grad.zero_()
out.backward(torch.ones_like(out), retain_graph=True)
print(f"\nCall after zeroing gradients\n{inp.grad}")

# torch.autograd.grad returns gradients instead of accumulating them in .grad
a = torch.tensor([2.0, 3.0], requires_grad=True)
c = torch.tensor([6.0, 4.0], requires_grad=True)
q = 3 * a**3 - c**2
(da, dc) = torch.autograd.grad(q.sum(), (a, c))
print(da, dc)
print(torch.equal(da, 9 * a**2), torch.equal(dc, -2 * c))
print(a.grad is None)

# retain_grad keeps the gradient of a non-leaf
h = a * c
h.retain_grad()
s = (h**2).sum()
s.backward()
print(h.grad, a.grad, c.grad)

# second derivatives: torch.autograd.grad with create_graph=True, and a gradient penalty's backward
u = torch.tensor(1.5, requires_grad=True)
v = u**3
(du,) = torch.autograd.grad(v, u, create_graph=True)
(d2u,) = torch.autograd.grad(du, u)
print(f"dv/du = {du.item():.4f}, d2v/du2 = {d2u.item():.4f}")
xs = torch.tensor([1.0, 2.0], requires_grad=True)
(g,) = torch.autograd.grad((xs.sin() * xs).sum(), xs, create_graph=True)
g.pow(2).sum().backward()
print("gradient of the squared gradient:", xs.grad)

# requires_grad_ and in-place updates of a leaf under no_grad
p = torch.zeros(3).requires_grad_(True)
for step in range(3):
    loss = ((p - torch.tensor([1.0, 2.0, 3.0])) ** 2).sum()
    loss.backward()
    with torch.no_grad():
        p -= 0.25 * p.grad
    p.grad.zero_()
    print(step, p.detach().numpy().round(4).tolist(), round(loss.item(), 4))
