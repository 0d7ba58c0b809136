// The global functions a chat template can call: transformers' raise_exception, strftime_now,
// namespace and dict, and jinja2's range (capped like its sandbox's MAX_RANGE).
#include <algorithm>
#include <cstdio>

#include "chat/jinja_interpreter.h"

namespace hearth::jinja {

namespace {

constexpr int64_t kMaxRange = 100000;  // jinja2's sandbox MAX_RANGE

const std::string& stringArg(const CallArgs& args, size_t pos, const char* name, const char* fn)
{
    const Value* v = args.get(pos, name);
    if (!v || !v->isString())
        throw TemplateError(std::string(fn) + "() argument must be a string");
    return v->asString();
}

// Python's strftime for the directives date templates use, with English names whatever the
// process locale (a GUI may have called setlocale).
std::string strftimeLike(const std::string& fmt, const std::tm& t)
{
    static const char* const kDays[] = {"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"};
    static const char* const kMonths[] = {"January", "February", "March", "April", "May", "June", "July",
                                          "August", "September", "October", "November", "December"};
    const int wday = std::clamp(t.tm_wday, 0, 6);
    const int mon = std::clamp(t.tm_mon, 0, 11);
    std::string out;
    char buf[32];
    for (size_t i = 0; i < fmt.size(); ++i) {
        if (fmt[i] != '%' || i + 1 >= fmt.size()) {
            out += fmt[i];
            continue;
        }
        char c = fmt[++i];
        const bool noPad = c == '-' && i + 1 < fmt.size();
        if (noPad)
            c = fmt[++i];
        auto num = [&](int v, int width) {
            std::snprintf(buf, sizeof buf, noPad ? "%d" : "%0*d", noPad ? v : width, v);
            if (noPad)
                std::snprintf(buf, sizeof buf, "%d", v);
            out += buf;
        };
        switch (c) {
        case 'a': out += std::string(kDays[wday]).substr(0, 3); break;
        case 'A': out += kDays[wday]; break;
        case 'b': case 'h': out += std::string(kMonths[mon]).substr(0, 3); break;
        case 'B': out += kMonths[mon]; break;
        case 'd': num(t.tm_mday, 2); break;
        case 'e': std::snprintf(buf, sizeof buf, "%2d", t.tm_mday); out += buf; break;
        case 'm': num(mon + 1, 2); break;
        case 'Y': num(t.tm_year + 1900, 4); break;
        case 'y': num((t.tm_year + 1900) % 100, 2); break;
        case 'H': num(t.tm_hour, 2); break;
        case 'I': num(t.tm_hour % 12 == 0 ? 12 : t.tm_hour % 12, 2); break;
        case 'M': num(t.tm_min, 2); break;
        case 'S': num(t.tm_sec, 2); break;
        case 'j': num(t.tm_yday + 1, 3); break;
        case 'p': out += t.tm_hour < 12 ? "AM" : "PM"; break;
        case 'w': num(wday, 1); break;
        case '%': out += '%'; break;
        default: out += '%'; out += c; break;
        }
    }
    return out;
}

}  // namespace

void addGlobals(Dict& globals)
{
    globals.set("raise_exception", Value(makeFunction("raise_exception", [](const CallArgs& args, Interpreter&) -> Value {
        const Value* msg = args.get(0, "message");
        throw TemplateError(msg ? msg->str() : std::string(), 0, 0, true);
    })));
    globals.set("strftime_now", Value(makeFunction("strftime_now", [](const CallArgs& args, Interpreter& in) {
        return Value(strftimeLike(stringArg(args, 0, "format", "strftime_now"), in.localTime()));
    })));
    auto fromArgs = [](const CallArgs& args) {
        auto d = std::make_shared<Dict>();
        for (const Value& p : args.positional) {
            if (!p.isDict() && !p.isNamespace())
                throw TemplateError("namespace()/dict() positional argument must be a mapping");
            for (const auto& [k, v] : p.asDict().entries)
                d->set(k, v);
        }
        for (const auto& [k, v] : args.named)
            d->set(k, v);
        return d;
    };
    globals.set("namespace", Value(makeFunction("namespace", [fromArgs](const CallArgs& args, Interpreter&) {
        DictPtr d = fromArgs(args);
        for (const auto& e : d->entries)
            if (!e.first.empty() && e.first[0] == '_')
                throw TemplateError("chat templates cannot store underscore-prefixed attributes on a namespace");
        return Value::ns(d);
    })));
    globals.set("dict", Value(makeFunction("dict", [fromArgs](const CallArgs& args, Interpreter&) { return Value::dict(fromArgs(args)); })));
    globals.set("range", Value(makeFunction("range", [](const CallArgs& args, Interpreter& in) {
        int64_t start = 0;
        int64_t stop = 0;
        int64_t step = 1;
        for (const Value& a : args.positional)
            if (!a.isInt() && !a.isBool())
                throw TemplateError("range() arguments must be integers");
        if (args.positional.size() == 1) {
            stop = args.positional[0].toInt();
        } else if (args.positional.size() == 2 || args.positional.size() == 3) {
            start = args.positional[0].toInt();
            stop = args.positional[1].toInt();
            if (args.positional.size() == 3)
                step = args.positional[2].toInt();
        } else {
            throw TemplateError("range expected 1 to 3 arguments");
        }
        if (step == 0)
            throw TemplateError("range() arg 3 must not be zero");
        List out;
        for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
            if (static_cast<int64_t>(out.size()) >= kMaxRange)
                throw TemplateError("Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
            out.push_back(Value(i));
        }
        in.charge(out.size());
        return Value(std::move(out));
    })));
}

}  // namespace hearth::jinja
