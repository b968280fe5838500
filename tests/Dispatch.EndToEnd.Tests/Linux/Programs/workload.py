# A Python workload for the static CPython guest, threads included: only modules built into the interpreter or written
# in Python (a static interpreter cannot load extension modules), nothing that depends on the time, the process or the
# machine.
import array, binascii, bisect, cmath, collections, csv, datetime, heapq, io, itertools, json, math, pickle, random, re
import signal, struct, sys, unicodedata, zlib, _sha256
import xml.etree.ElementTree as ET

random.seed(7)
data = [{"id": i, "v": random.random(), "s": "x" * (i % 7)} for i in range(2000)]
text = json.dumps(data, sort_keys=True)
print(len(text), _sha256.sha256(text.encode()).hexdigest()[:16], zlib.crc32(text.encode()))
print(sorted(collections.Counter(re.findall(r'"s": "(x*)"', text)).items())[:3])
print(sorted(d["v"] for d in data)[1000], math.fsum(d["v"] for d in data))
print(math.lgamma(10.5), math.erf(0.3), struct.pack("<dq", math.pi, -5).hex(), cmath.sqrt(-2), cmath.exp(1j * math.pi))


def fibonacci():
    a, b = 0, 1
    while True:
        yield a
        a, b = b, a + b


print(sum(itertools.islice(fibonacci(), 300)) % 10**20)


class Boom(Exception):
    pass


try:
    raise Boom("boom")
except Boom as e:
    print("caught", e)
print(datetime.datetime(2024, 2, 29, 13, 5).isoformat(), datetime.date(2024, 1, 1).weekday(),
      datetime.date(2024, 3, 1) - datetime.date(2023, 3, 1))
print(pow(3, 10**5, 10**9 + 7), (1 << 200) // 7 % 1000003, f"{1/3:.20f}", 2**0.5, float.hex(0.1), int("9" * 50) // 7)
print(sys.platform, sys.maxsize, sys.byteorder)
print(zlib.decompress(zlib.compress(text.encode() * 3, 9)) == text.encode() * 3)
h = list(range(1000))
random.shuffle(h)
heapq.heapify(h)
print([heapq.heappop(h) for _ in range(5)], bisect.bisect([1, 3, 5, 7], 4))
print(len(pickle.dumps(data)), pickle.loads(pickle.dumps(data))[5], array.array("d", [1.5, 2.5]).tobytes().hex())
print(unicodedata.name("\u00e9"), binascii.hexlify(b"abc"), "\u00c4\u00d6\u00dc".lower(), "stra\u00dfe".upper())
buffer = io.StringIO()
csv.writer(buffer).writerow([1, "a,b", 3.5])
print(buffer.getvalue().strip())
root = ET.fromstring("<a><b x='1'>t</b><b x='2'/></a>")
print([b.get("x") for b in root.iter("b")])
received = []
signal.signal(signal.SIGALRM, lambda number, frame: received.append(number))
signal.setitimer(signal.ITIMER_REAL, 0.05)
while not received:
    pass
print("SIGALRM handled in Python:", received)

import threading
import queue

results = queue.Queue()
lock = threading.Lock()
totals = []


def worker(n):
    s = sum(i * i for i in range(20000 * (n + 1)))
    with lock:
        totals.append(s)
    results.put(n)


threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
for t in threads:
    t.start()
for t in threads:
    t.join()
event = threading.Event()
threading.Timer(0.05, event.set).start()
print("threads:", sorted(totals)[:2], sorted(results.get() for _ in range(6)), "event set:", event.wait(5))
