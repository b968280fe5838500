// C++ as a static program uses it: exceptions unwound through several frames (the DWARF unwinder reads its own code and
// stack), RTTI, virtual calls, std::sort, std::map, std::unordered_map, std::string and iostreams with formatting.
#include <algorithm>
#include <cstdint>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <numeric>
#include <sstream>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

namespace
{
std::uint64_t state = 0x2545F4914F6CDD1Dull;

std::uint64_t next()
{
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
}

struct Shape
{
    virtual ~Shape() = default;
    virtual double Area() const = 0;
    virtual std::string Name() const = 0;
};

struct Circle final : Shape
{
    explicit Circle(double r) : R(r) {}
    double Area() const override { return 3.141592653589793 * R * R; }
    std::string Name() const override { return "circle"; }
    double R;
};

struct Rectangle final : Shape
{
    Rectangle(double w, double h) : W(w), H(h) {}
    double Area() const override { return W * H; }
    std::string Name() const override { return "rectangle"; }
    double W, H;
};

struct DepthError : std::runtime_error
{
    DepthError(int depth) : std::runtime_error("too deep at " + std::to_string(depth)), Depth(depth) {}
    int Depth;
};

int Recurse(int depth, int limit)
{
    std::vector<int> local(depth + 1, depth); // destroyed during unwinding
    if (depth == limit) throw DepthError(depth);
    return Recurse(depth + 1, limit) + local[0];
}
} // namespace

int main()
{
    // Exceptions through frames with destructors, caught by base class, rethrown, and of several types.
    int caught = 0;
    for (int limit = 1; limit <= 40; limit += 13)
    {
        try
        {
            try
            {
                Recurse(0, limit);
            }
            catch (const std::runtime_error &e)
            {
                std::cout << "caught: " << e.what() << '\n';
                throw;
            }
        }
        catch (const DepthError &e)
        {
            caught += e.Depth;
        }
    }
    try
    {
        std::vector<int> v(3);
        (void)v.at(10);
    }
    catch (const std::out_of_range &)
    {
        std::cout << "out_of_range\n";
    }
    std::cout << "caught depth sum " << caught << '\n';

    // Virtual calls and RTTI.
    std::vector<std::unique_ptr<Shape>> shapes;
    for (int i = 0; i < 1000; i++)
    {
        if (next() % 2) shapes.push_back(std::make_unique<Circle>((next() % 1000) / 10.0));
        else shapes.push_back(std::make_unique<Rectangle>((next() % 1000) / 7.0, (next() % 1000) / 3.0));
    }
    std::sort(shapes.begin(), shapes.end(), [](const auto &a, const auto &b) { return a->Area() < b->Area(); });
    int circles = 0;
    for (const auto &s : shapes)
        if (dynamic_cast<const Circle *>(s.get())) circles++;
    double total = std::accumulate(shapes.begin(), shapes.end(), 0.0, [](double t, const auto &s) { return t + s->Area(); });
    std::cout << std::setprecision(17) << "areas " << total << " circles " << circles << " smallest " << shapes.front()->Name()
              << ' ' << shapes.front()->Area() << " largest " << shapes.back()->Area() << '\n';

    // Ordered and hashed maps over strings.
    std::map<std::string, int> ordered;
    std::unordered_map<std::string, std::uint64_t> hashed;
    for (int i = 0; i < 20000; i++)
    {
        std::string key = "k" + std::to_string(next() % 5000);
        ordered[key]++;
        hashed[key] ^= next();
    }
    std::uint64_t combined = 0;
    for (const auto &[k, v] : ordered) combined = combined * 31 + v + hashed[k] % 1000 + k.size();
    std::cout << "keys " << ordered.size() << " first " << ordered.begin()->first << " last " << ordered.rbegin()->first
              << " combined " << std::hex << combined << std::dec << '\n';

    // String streams and formatting.
    std::ostringstream out;
    out << std::fixed << std::setprecision(3) << 1.0 / 7 << ' ' << std::scientific << 6.02214076e23 << ' ' << std::hex
        << std::showbase << 48879 << ' ' << std::oct << 8 << ' ' << std::boolalpha << true;
    std::istringstream in("42 3.5 word");
    int n;
    double d;
    std::string w;
    in >> n >> d >> w;
    std::cout << out.str() << " | " << n + 1 << ' ' << d * 2 << ' ' << w << '\n';
    return caught == 0 ? 1 : 0;
}
